"""Reading answers: answer formats, text and option extractors, think-trace splitting, DROP's metric."""
