"""MMLU (Hendrycks et al., 2021): 57 subjects, 14,042 test questions, zero-shot.

``mmlu`` is the Orca 2 protocol: the model answers in free text and the option letter is
extracted (:func:`orcabench.answers.text.extract_choice`). Report per subject, per category
(:data:`CATEGORIES`: the four groups of the MMLU paper) and overall. The Orca 2 paper's
MMLU column is one overall accuracy; whether it is the mean over all 14,042 questions
(micro) or over the 57 subjects (macro) is not stated in the available notes. orcabench
reports both; the lm-eval convention, and the likelier reading, is the micro average.

``mmlu-ll`` is the lm-eval protocol: the same prompt, and the answer is whichever of
" A" .. " D" the model finds most likely after "Answer:" (no generation, never unparsed).
"""

from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge
from orcabench.task.data import DataSpec, row_origin
from orcabench.task import GenerativeTask, LoglikelihoodChoiceTask, register
from orcabench.types import Example, OrcabenchError

CATEGORIES: dict[str, tuple[str, ...]] = {
    "STEM": (
        "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
        "college_mathematics", "college_physics", "computer_security", "conceptual_physics", "electrical_engineering",
        "elementary_mathematics", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
        "high_school_mathematics", "high_school_physics", "high_school_statistics", "machine_learning",
    ),
    "humanities": (
        "formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
        "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios", "philosophy",
        "prehistory", "professional_law", "world_religions",
    ),
    "social sciences": (
        "econometrics", "high_school_geography", "high_school_government_and_politics", "high_school_macroeconomics",
        "high_school_microeconomics", "high_school_psychology", "human_sexuality", "professional_psychology",
        "public_relations", "security_studies", "sociology", "us_foreign_policy",
    ),
    "other": (
        "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging", "management",
        "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting", "professional_medicine",
        "virology",
    ),
}
CATEGORY_OF = {subject: category for category, subjects in CATEGORIES.items() for subject in subjects}
SUBJECTS = tuple(sorted(CATEGORY_OF))

# Paraphrases of the default wording for --prompt-variants; each ends in "Answer:" as the default does.
PARAPHRASES = ("zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2")
DATA = DataSpec(hub_path="cais/mmlu", hub_split="test", hub_configs=SUBJECTS,
                local_files=tuple(f"mmlu/test/{subject}_test.csv" for subject in SUBJECTS), local_format="csv")


def parse_row(row: dict[str, Any], index: int) -> Example:
    subset, position = row_origin(row)
    subject = subset.removesuffix("_test")
    if "columns" in row:  # the upstream CSV: question, A, B, C, D, answer letter
        if len(row["columns"]) != 6:
            raise OrcabenchError(f"mmlu {subject} row {position + 1}: expected 6 columns, got {len(row['columns'])}")
        question, *options, gold = row["columns"]
    else:  # cais/mmlu on the Hub: question, choices, answer (0-3)
        question, options, gold = row["question"], row["choices"], int(row["answer"])
    fields = {"question": question.strip(), "subject_name": subject.replace("_", " ")}
    return choice_example(f"{subject}/{position}", fields, options, gold, subtask=subject)


register(
    GenerativeTask(name="mmlu", version="1",
                   description="MMLU test, 57 subjects (14,042), zero-shot, generative, letter extracted (Orca 2 protocol)",
                   data=DATA, template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge,
                   max_tokens=512, variants=PARAPHRASES, circular=True),
    LoglikelihoodChoiceTask(name="mmlu-ll", version="1",
                            description="MMLU test, 57 subjects (14,042), zero-shot, loglikelihood of A-D (lm-eval protocol)",
                            data=DATA, template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row,
                            variants=PARAPHRASES, circular=True),
)
