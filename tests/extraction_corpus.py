"""The adversarial extraction corpus: the extractors' specification.

Each row is one model output as a chat model of the named style writes it, the question
context it answers (which answer format, which options), and the answer it must be read as
(``None``: unparsed, scoring 0 and counted as such). Styles: ``orca2`` (step by step, then
"Final answer" / "Therefore, the answer is"), ``llama2`` (LLaMA-2-Chat: pleasantries, "The
correct answer is (B) ...", refusals), ``wizard`` (WizardLM / Vicuna: "Answer: C" or "###
Answer: C" and an explanation on the next lines), ``gpt4`` (markdown, bold, answer first,
``\\boxed``), ``small`` (weak small models: echoes, lists, repeats, questions back), and
``real`` (outputs the bundled models smollm2-135m and gemma3-270m wrote on the staged tasks).

Hedges ("(A) or (B)"), refusals and questions back are unparsed: never guessed.
``tests/test_extraction_corpus.py`` runs every row.
"""

from __future__ import annotations

from typing import Any

# Question contexts: (answer format, format arguments).
CONTEXTS: dict[str, tuple[str, Any]] = {
    "organs": ("choice", ("ABCD", ["Bladder", "Kidney", "Ureter", "Urethra"])),
    "cell": ("choice", ("ABCD", ["The nucleus", "The ribosome", "The mitochondria", "The cell wall"])),
    "share": ("choice", ("ABCD", ["10%", "20%", "30%", "40%"])),
    "dates": ("choice", ("ABCDEF", ["01/02/2019", "12/31/2018", "01/08/2019", "12/26/2018", "01/07/2019", "12/25/2018"])),
    "yesno": ("label", ("Yes", "No")),
    "truefalse": ("label", ("True", "False")),
    "validity": ("label", ("valid", "invalid")),
    "number": ("number", None),
    "dyck": ("dyck", None),
    "words": ("words", ["syndrome", "therefrom", "apple"]),
    "math": ("math", None),
    "word": ("last-word", None),
    # Question contexts of the 2024-2026 styles (issue 21).
    "planets": ("choice", ("ABCD", ["Venus", "Mercury", "Mars", "Jupiter"])),  # closest to the sun
    "ages": ("choice", ("ABCDE", ["35", "36", "37", "38", "39"])),
    "tomorrow": ("choice", ("ABCD", ["11/02/2019", "11/03/2019", "11/04/2019", "10/03/2019"])),
    "learning": ("choice", ("ABCD", ["Classical conditioning", "Operant conditioning", "Observational learning",
                                     "Habituation"])),
    "distance": ("choice", ("ABCD", ["8 km", "10 km", "12 km", "14 km"])),
    "colors": ("choice", ("ABCDEFG", ["red", "orange", "yellow", "green", "blue", "brown", "magenta"])),
    "count": ("choice", ("ABCD", ["nine", "ten", "eleven", "twelve"])),
    "speeds": ("choice", ("ABCD", ["1.5 × 10^6 m/s", "2.25 × 10^6 m/s", "2.5 × 10^5 m/s", "3.0 × 10^6 m/s"])),
    # The same questions, where the generation was cut off at the token budget (finish_reason "length").
    "number-cut": ("number", None),
    "organs-cut": ("choice", ("ABCD", ["Bladder", "Kidney", "Ureter", "Urethra"])),
    "yesno-cut": ("label", ("Yes", "No")),
    "planets-cut": ("choice", ("ABCD", ["Venus", "Mercury", "Mars", "Jupiter"])),
    # Contexts whose question the reader reads too (QUESTIONS below): what it asks decides the reading.
    "coin": ("label", ("Yes", "No")),
    "coin-cut": ("label", ("Yes", "No")),
    "plausible": ("label", ("yes", "no")),
    "gold": ("number", None),
    "baker": ("number", None),
    "arith": ("number", None),
    "profit-cut": ("number", None),
    "grey": ("choice", ("ABCD", ["nine", "ten", "eleven", "twelve"])),
    "grey-digits": ("choice", ("ABCD", ["9", "10", "11", "12"])),
}
# Contexts whose outputs were cut off at the token budget.
CUT_OFF = frozenset({"number-cut", "organs-cut", "yesno-cut", "planets-cut", "coin-cut", "profit-cut"})
# The question of each context that has one, as a task's example holds it (``fields["question"]``): the
# question-aware rules read what it asks (a state, a quantity) and the numbers it gives.
COIN = ("A coin is heads up. Ka flips the coin. Sherrie flips the coin. Is the coin still heads up? Note that "
        "\"flip\" here means \"reverse\".")
GREY = ("On the floor, there are three grey cat toys, two purple notebooks and three grey notebooks. If I remove all "
        "the notebooks from the floor, how many grey objects remain on it?")
QUESTIONS: dict[str, str] = {
    "coin": COIN,
    "coin-cut": COIN,
    "plausible": 'Is the following sentence plausible? "Joao Moutinho caught the screen pass in the NFC championship."',
    "gold": "Gretchen has 110 coins. There are 30 more gold coins than silver coins. How many gold coins does "
            "Gretchen have?",
    "baker": "A baker bakes 12 cakes a day and sells each for 3 dollars. How much does he earn in a day?",
    "arith": "((-1 + 2) * 3) =",
    "profit-cut": "Josh buys a house for $80,000 and then puts in $50,000 in repairs. This increased the value of the "
                  "house by 150%. How much profit did he make?",
    "grey": GREY,
    "grey-digits": GREY,
}
# Styles of models released in 2024-2026 (issue 21), each written by hand in that model's manner.
NEW_STYLES = frozenset({"llama3", "qwen", "mistral", "phi", "gemma", "r1", "gpt4o", "claude", "tiny"})

# Option lists a model writes out again when it invents new questions in the prompt's format.
ORGAN_LIST = "(A) Bladder\n(B) Kidney\n(C) Ureter\n(D) Urethra\n"
CELL_LIST = "A. The nucleus\nB. The ribosome\nC. The mitochondria\nD. The cell wall\n"

# (style, context, output, expected answer or None)
CHECKING = "Let me check each fact against the question and rule out the ones that do not fit. " * 3  # a repetition

CASES: list[tuple[str, str, str, str | None]] = [
    # ---- option letters: the failing classes --------------------------------------
    # "Answer: C" / "### Answer: C" followed by a blank line or a new line of explanation.
    ("wizard", "cell", "Answer: C\n\nThe mitochondria produce most of the cell's ATP.", "C"),
    ("wizard", "cell", "### Answer: C\n\nExplanation: the mitochondria are the site of respiration.", "C"),
    ("wizard", "cell", "### Answer: C\nThe mitochondria are where ATP is made.", "C"),
    ("wizard", "organs", "Answer: B\nExplanation: the kidney filters blood; the bladder only stores urine.", "B"),
    ("wizard", "organs", "ANSWER: b\n\nThe kidneys remove waste from the blood.", "B"),
    ("wizard", "dates", "Answer: F\n\nOne week before 01/01/2019 is 12/25/2018.", "F"),
    ("wizard", "organs", "### Answer:\nB\n\n### Explanation:\nThe kidney filters the blood.", "B"),
    ("wizard", "organs", "Answer: (B)\n\nExplanation: (A) stores urine, (C) carries it.", "B"),
    ("wizard", "share", "### Answer: C\n### Explanation: 3 of the 10 students, so 30%.", "C"),
    ("wizard", "organs", "Answer: A\n\nA is incorrect because ... wait, no.\nAnswer: B", "B"),
    # A letter set off by a dash, an arrow or bold mid-sentence.
    ("gpt4", "cell", "Choice C – the mitochondria – is where cellular respiration happens.", "C"),
    ("gpt4", "cell", "I would pick choice C — the mitochondria — since they make ATP.", "C"),
    ("gpt4", "cell", "**C** — because the mitochondria carry out respiration.", "C"),
    ("gpt4", "organs", "**A** — because the bladder is where urine collects, and (B) only filters it.", "A"),
    ("gpt4", "organs", "Filtering is the kidney's job, so: → B", "B"),
    ("gpt4", "organs", "Only the urethra carries urine out of the body, so: → D", "D"),
    ("gpt4", "organs", "The organ that filters blood → (B)", "B"),
    ("gpt4", "organs", "The kidney filters the blood, so I'd go with **B** here.", "B"),
    ("gpt4", "organs", "Between these, **(B)** is the organ that filters blood.", "B"),
    ("gpt4", "dates", "Counting back seven days from 01/01/2019 → F.", "F"),
    ("gpt4", "cell", "Option C - the mitochondria, the powerhouse of the cell.", "C"),
    ("gpt4", "cell", "=> C", "C"),
    # Answer first: an output that opens with its answer; later mentions explain it.
    ("gpt4", "cell", "**(C)** is right; (B) fails because ribosomes make proteins, not ATP.", "C"),
    ("gpt4", "organs", "(B) is correct. (A) is wrong since the bladder only stores urine, and (D) carries it out.", "B"),
    ("gpt4", "organs", "B is the correct answer. A and C are parts of the urinary tract that do not filter.", "B"),
    ("gpt4", "organs", "(B) Kidney\n\nThe kidney filters blood. (A) the bladder stores urine; (C) the ureter carries it.", "B"),
    ("gpt4", "cell", "C. The mitochondria\n\nRibosomes (B) make proteins and the nucleus (A) stores DNA.", "C"),
    ("gpt4", "organs", "B – the kidney. The bladder (A) and urethra (D) do not filter.", "B"),
    ("gpt4", "dates", "(F) 12/25/2018\n\nToday is 01/01/2019; a week ago was 12/25/2018, not (D).", "F"),
    ("orca2", "organs", "(B)\n\nThe kidney is the organ that filters blood, unlike (A).", "B"),
    ("gpt4", "organs", "**B.** The kidney. Why not (A)? The bladder stores urine.", "B"),
    # Option text without its letter.
    ("llama2", "cell", "The answer is the mitochondria.", "C"),
    ("llama2", "cell", "The correct answer is mitochondria.", "C"),
    ("llama2", "organs", "The answer is the kidney.", "B"),
    ("llama2", "organs", "The answer is a kidney, which filters the blood.", "B"),
    ("small", "cell", "The mitochondria.", "C"),
    ("small", "cell", "Mitochondria", "C"),
    ("small", "share", "About 30%.", "C"),
    ("small", "share", "30%", "C"),
    ("small", "share", "Approximately 20%.", "B"),
    ("gpt4", "share", "$\\boxed{30\\%}$", None),  # "30\\%" is LaTeX, not the option's text "30%"
    ("gpt4", "cell", "$\\boxed{\\text{The mitochondria}}$", "C"),
    ("gpt4", "organs", "\\boxed{Kidney}", "B"),
    ("gpt4", "dates", "The date is \\boxed{12/25/2018}.", "F"),
    ("gpt4", "organs", "The answer is the second option.", "B"),
    ("gpt4", "cell", "The third option is correct: mitochondria make ATP.", "C"),
    ("llama2", "organs", "I would choose the second option, as the kidney filters blood.", "B"),
    ("gpt4", "dates", "The answer is the last option.", "F"),
    ("gpt4", "organs", "The answer is the second or third option.", None),
    ("gpt4", "organs", "The correct option is the fourth one.", "D"),
    # A question back to the user is no answer, whatever letters it holds.
    ("llama2", "organs", "Could you clarify whether you mean (A) the bladder or the kidney?", None),
    ("small", "organs", "Is it (B)?", None),
    ("llama2", "dates", "Do you mean one week before 01/01/2019, as in option (F)?", None),
    # Hedges and refusals stay unparsed.
    ("llama2", "organs", "I apologize, but I cannot answer medical questions. Please consult a doctor.", None),
    ("llama2", "organs", "The answer could be (A) or (B), depending on the context.", None),
    ("llama2", "organs", "Both B and C seem plausible; the answer is B or C.", None),
    ("small", "organs", "The answer is (A) or (B).", None),
    ("gpt4", "organs", "The answer is either B or C.", None),
    ("llama2", "cell", "I'm not sure which option is correct.", None),
    ("small", "organs", "", None),
    ("small", "organs", "   \n  ", None),
    # ---- option letters: Orca-2 style --------------------------------------------------------
    ("orca2", "organs", "Step 1: The kidney filters blood.\nStep 2: The bladder stores urine.\nFinal answer: (B)", "B"),
    ("orca2", "organs", "First, recall each organ's role. The bladder (A) stores urine. Therefore, the answer is B.", "B"),
    ("orca2", "cell", "Let's analyze each option.\n(A) stores DNA.\n(B) makes proteins.\n(C) produces ATP.\n(D) gives shape.\n"
     "So the answer is (C).", "C"),
    ("orca2", "dates", "Today is 01/01/2019. One week ago was 12/25/2018, which is option (F). The answer is F.", "F"),
    ("orca2", "organs", "The kidney filters blood, so the correct answer is (B) Kidney.", "B"),
    ("orca2", "organs", "Final Answer: B", "B"),
    ("orca2", "organs", "### Final Answer\n(B) Kidney", "B"),
    ("orca2", "cell", "To determine the answer, consider that respiration occurs in the mitochondria.\n\n"
     "Answer: (C) The mitochondria", "C"),
    ("orca2", "share", "3 out of 10 is 30%. The answer is (C) 30%.", "C"),
    ("orca2", "share", "3 out of 10 is 30%, so the answer is 30%.", "C"),
    ("orca2", "organs", "The answer is (A). Wait, the bladder does not filter. The correct answer is (B).", "B"),
    ("orca2", "dates", "We subtract 7 days: 12/25/2018. The correct option is F because 01/01/2019 minus a week is 12/25/2018.",
     "F"),
    ("orca2", "organs", "The answer is: B) Kidney", "B"),
    ("orca2", "organs", "Thus, the best choice would be [B].", "B"),
    ("orca2", "organs", "The answer is \\text{(B)}", "B"),
    ("orca2", "cell", "Thus the final answer is the mitochondria (C).", "C"),
    # ---- option letters: LLaMA-2-Chat style --------------------------------------------------
    ("llama2", "organs", "Sure! I'd be happy to help. The correct answer is (B) Kidney. The kidney filters waste from the blood.",
     "B"),
    ("llama2", "organs", "Great question! Based on the information provided, the answer is: B. Kidney", "B"),
    ("llama2", "organs", "Of course! The organ that filters blood is the kidney, so the correct answer is B.", "B"),
    ("llama2", "cell", "Hello! I'm here to help. The correct answer is C) The mitochondria.", "C"),
    ("llama2", "cell", "Thank you for your question! The answer is (C) The mitochondria, as they are the powerhouse of the cell.",
     "C"),
    ("llama2", "dates", "Sure, I'd be happy to help! One week ago from today (01/01/2019) would be (F) 12/25/2018.", "F"),
    ("llama2", "organs", "Sure! The correct answer is:\n\n(B) Kidney\n\nThe kidney is responsible for filtering the blood.", "B"),
    ("llama2", "organs", "I apologize, but the question does not make sense: every option is an organ.", None),
    ("llama2", "share", "Sure! Since 3 of the 10 students passed, the percentage is 30%. So, the correct answer is (C) 30%.",
     "C"),
    ("llama2", "organs", "As a responsible AI language model, I must point out that the question is ambiguous.", None),
    ("llama2", "cell", "Great, I'm glad you're interested in biology! The answer is C, the mitochondria.", "C"),
    ("llama2", "organs", "The correct answer is (B) Kidney.\n\nExplanation:\n\n(A) Bladder: stores urine.\n"
     "(C) Ureter: carries urine.", "B"),
    # ---- option letters: WizardLM / Vicuna style ---------------------------------------------
    ("wizard", "organs", "The answer is: B", "B"),
    ("wizard", "organs", "B) Kidney", "B"),
    ("wizard", "organs", "The correct answer is B. Kidney.\n\nThe kidney filters the blood.", "B"),
    ("wizard", "cell", "C. The mitochondria", "C"),
    ("wizard", "cell", "The answer is C. The mitochondria is the organelle that produces ATP.", "C"),
    ("wizard", "dates", "Answer: F) 12/25/2018", "F"),
    ("wizard", "share", "Answer: C. 30%", "C"),
    ("wizard", "organs", "Answer:\n\n(B) Kidney", "B"),
    ("wizard", "organs", "### Answer: B\n### Reasoning: (A) the bladder only stores urine.", "B"),
    ("wizard", "dates", "### Answer: 12/25/2018", "F"),
    ("wizard", "cell", "Answer: The mitochondria\n\nThey produce ATP.", "C"),
    ("wizard", "organs", "The correct option is (B).\n\n(A) is wrong.", "B"),
    # ---- option letters: GPT-4 style ---------------------------------------------------------
    ("gpt4", "organs", "**Answer: B**\n\nThe kidney filters blood.", "B"),
    ("gpt4", "organs", "**Answer:** (B) Kidney", "B"),
    ("gpt4", "organs", "The answer is $\\boxed{B}$.", "B"),
    ("gpt4", "organs", "The answer is (A). Rechecking: $\\boxed{C}$", "C"),
    ("gpt4", "organs", "$\\boxed{\\text{(B)}}$", "B"),
    ("gpt4", "organs", "**B. Kidney**", "B"),
    ("gpt4", "organs", "**(B) Kidney** — the kidney filters blood, while the bladder (A) stores urine.", "B"),
    ("gpt4", "cell", "The mitochondria (C) produce ATP.\n\n**Answer: C**", "C"),
    ("gpt4", "cell", "Respiration → mitochondria → **C**", "C"),
    ("gpt4", "dates", "- Today: 01/01/2019\n- One week ago: 12/25/2018\n\n**Answer: (F)**", "F"),
    ("gpt4", "share", "3/10 = 30%, so **(C)**.", "C"),
    ("gpt4", "organs", "Final answer: **D**", "D"),
    ("gpt4", "organs", "`B`", "B"),
    ("gpt4", "organs", "**B**", "B"),
    ("gpt4", "cell", "The best choice would be **C** (the mitochondria).", "C"),
    ("gpt4", "organs", "The answer is A because the bladder stores urine.", "A"),
    ("gpt4", "organs", "The answer is A dog could not do that.", None),
    ("gpt4", "organs", "The answer is (E).", None),
    # ---- option letters: weak small models -----------------------------------------------
    ("small", "organs", "(B)", "B"),
    ("small", "organs", "B", "B"),
    ("small", "organs", "b.", "B"),
    ("small", "organs", "I think it's (C)", "C"),
    ("small", "organs", "Kidney", "B"),
    ("small", "organs", "kidney.", "B"),
    ("small", "organs", "The kidney.", "B"),
    ("small", "organs", "(A) looks right at first, but (A) ignores filtering. The answer is (B).", "B"),
    ("small", "organs", "(A) is wrong since the bladder stores urine; so (B).", "B"),
    ("small", "organs", "Which organ filters blood?\n(A) Bladder\n(B) Kidney\n(C) Ureter\n(D) Urethra", None),
    ("small", "organs", "A) Bladder\nB) Kidney\nC) Ureter\nD) Urethra\n\nThe answer is B", "B"),
    ("small", "organs", "A:", None),
    ("small", "organs", "A: (B) Kidney", "B"),
    ("small", "organs", "The kidney filters the blood and the bladder stores it.", None),
    ("small", "organs", "I am not sure.", None),
    ("small", "organs", "The answer is (B).\n\nThe answer is the correct answer because the answer is (B) Kidney.", "B"),
    ("small", "organs", "The answer is Kidney.", "B"),
    ("small", "organs", "The answer is kidney, which filters blood.", "B"),
    ("small", "share", "The answer is 30%.", "C"),
    ("small", "dates", "12/25/2018", "F"),
    ("small", "dates", "The answer is 12/25/2018.", "F"),
    ("small", "dates", "(F) 12/25/2018", "F"),
    ("small", "cell", "The answer is (C) The mitochondria", "C"),
    ("small", "organs", "The correct option is b because it filters.", "B"),
    ("small", "organs", "the answer is (b)", "B"),
    ("small", "organs", "Answer: C", "C"),
    # ---- option letters: what the bundled models wrote ------------------------------------
    ("real", "organs", "(A)\n\nThe answer is (A).", "A"),
    ("real", "dates", "(C) 01/08/2019\n\nThe correct answer is (C) 01/08/2019", "C"),
    ("real", "dates", "(C) 01/08/2019\n\nThe correct answer is (B) 12/31/2018.", "B"),
    ("real", "organs", "A: Among A through D, the answer is", None),
    ("real", "organs", "A: (C) The development of a common religion is not mentioned.\n\nThe answer is (D) Urethra.", "D"),
    ("real", "organs", "The most effective means is to **DROP the carrying capacity** (C) to a lower value (C).", "C"),
    ("real", "organs", "A multiple choice question about anatomy is:\n\nWhich organ filters blood?\nA) Bladder\nB) Kidney\n"
     "C) Ureter\nD) Urethra", None),
    ("real", "organs", "A) 1.64%\n\nTo calculate the yield, we multiply 98,000 by 245.", "A"),
    # A model that answers, then makes up the next question with its options: the opening answer counts.
    ("real", "organs", "(D) Urethra\nThe following is a multiple choice question about anatomy.\nWhich organ stores urine?\n"
     "(A) Bladder\n(B) Kidney\n(C) Ureter\n(D) Urethra", "D"),
    ("real", "organs", " D\nWhich organ filters blood?\n(A) Bladder\n(B) Kidney\n(C) Ureter\n(D) Urethra\nAnswer: B", "B"),
    ("real", "organs", "100\nThe following is a multiple choice question about virology.\n(A) Bladder\n(B) Kidney\n(C) Ureter\n"
     "(D) Urethra", None),
    # Repetition loops that list the options (gemma3-270m) are no answers.
    ("real", "organs", "\n(B)\n(C)\n(D)\n(A)\n(B)\n(C)\n(D)\n(A)", None),
    ("real", "organs", " Bladder\nB: Kidney\nC: Ureter\nD: Urethra\nA: Bladder\nB: Kidney\nC: Ureter\nD: Urethra", None),
    ("real", "organs", " E.\n\nQ: A car is driven towards a tower. After how much more time will it reach the base?", None),
    ("real", "dates", " E.\n\nQ: A car is driven towards a tower. After how much more time will it reach the base?", "E"),
    ("real", "organs", "A kidney is an organ that filters blood.", None),  # a statement, not a choice
    ("real", "organs", "D) Urethra", "D"),
    ("real", "organs", "The correct answer is (B) 22 gauge.", "B"),
    ("real", "cell", "The answer is (C).\n\nThe answer is the correct answer because the answer is (C) the mitochondria.", "C"),
    # ---- labels: Yes / No -----------------------------------------------------------------
    ("orca2", "yesno", "The man intended to help, so the outcome was caused intentionally. Therefore, the answer is Yes.", "Yes"),
    ("orca2", "yesno", "Step 1: Identify the cause.\nStep 2: Check intent.\nFinal answer: No", "No"),
    ("llama2", "yesno", "Sure! Based on the scenario, the answer is: No. The man did not intend the outcome.", "No"),
    ("llama2", "yesno", "I apologize, but I cannot make a judgement about intent.", None),
    ("llama2", "yesno", "Yes, the sentence is plausible, since Messi is a footballer and no baseball term appears.", "Yes"),
    ("wizard", "yesno", "Answer: Yes\n\nExplanation: the outcome followed from his choice; no other cause.", "Yes"),
    ("wizard", "yesno", "### Answer: No\n\nThe sentence is not plausible: yes, he plays football, but not hockey.", "No"),
    ("wizard", "yesno", "Answer:\nNo\n\nExplanation: yes is wrong here.", "No"),
    ("gpt4", "yesno", "**No** — he did not intend the fire; yes, he saw the risk, but intent needs more.", "No"),
    ("gpt4", "yesno", "$\\boxed{\\text{No}}$", "No"),
    ("gpt4", "yesno", "**Answer: Yes**", "Yes"),
    ("gpt4", "yesno", "The answer is **yes**.", "Yes"),
    ("gpt4", "yesno", "Yes. No other cause is mentioned.", "Yes"),
    ("gpt4", "yesno", "No. He did not intend it.", "No"),
    ("small", "yesno", "Yes", "Yes"),
    ("small", "yesno", "no", "No"),
    ("small", "yesno", "The answer is yes or no, depending on intent.", None),
    ("small", "yesno", "Yes or no: hard to say.", None),
    ("small", "yesno", "Hard to tell.", None),
    ("small", "yesno", "Did he mean to do it? Do you want yes or no?", None),
    ("small", "yesno", "Is the sentence plausible?", None),
    ("small", "yesno", "", None),
    ("real", "yesno", "No, the sentence is not plausible. The sentence is a play on words.", "No"),
    ("real", "yesno", "No", "No"),
    ("real", "yesno", "A:", None),
    ("real", "yesno", "\n- Yes\n- No\n- Yes\n- No\n- Yes\n- No", None),
    ("real", "validity", "\n- valid\n- invalid\n- valid\n- valid\n- valid", None),
    ("real", "yesno", " No, she tells the truth.\nA: No, she tells the truth.\nA: No, she tells the truth.", "No"),
    ("real", "truefalse", " Answer: (True) and (True) is the answer.\n\nQ: What is the difference between true and false?",
     "True"),
    ("llama2", "yesno", "Thank you for asking! After considering the facts, I would say yes, it was intentional.", "Yes"),
    ("orca2", "yesno", "He knew the harm would follow, and the question asks about intent; so the answer is: yes", "Yes"),
    ("gpt4", "yesno", "Answer: **No**\n\nWhy: the harm was a side effect.", "No"),
    # ---- labels: True / False -------------------------------------------------------------
    ("orca2", "truefalse", "not ( True ) is False, and False and True is False. So the answer is True.", "True"),
    ("orca2", "truefalse", "Let's evaluate: not False = True; True and False = False.\nFinal answer: False", "False"),
    ("orca2", "truefalse", "Therefore, the answer is False.", "False"),
    ("llama2", "truefalse", "Sure! The expression evaluates to True.", "True"),
    ("llama2", "truefalse", "Great question! Let me break it down: not True is False, so the whole expression is False.",
     "False"),
    ("wizard", "truefalse", "Answer: True\n\nExplanation: not False is True, and True or False is True.", "True"),
    ("wizard", "truefalse", "### Answer: False\nBecause True and False is False.", "False"),
    ("gpt4", "truefalse", "**False** — `not True` is False, and `False or False` is False.", "False"),
    ("gpt4", "truefalse", "$\\boxed{\\text{True}}$", "True"),
    ("gpt4", "truefalse", "Evaluating step by step: not (True) → False; False and True → False. So: → False", "False"),
    ("gpt4", "truefalse", "True. The inner expression is False, and negating it gives True.", "True"),
    ("small", "truefalse", "False.\n\nThe sentence is: not (True) and (True) is.", "False"),
    ("small", "truefalse", "True", "True"),
    ("small", "truefalse", "The answer is True or False.", None),
    ("small", "truefalse", "Is it True?", None),
    ("real", "truefalse", "False.\n\nThe sentence is not (True) and (True) is.", "False"),
    ("orca2", "truefalse", "The expression simplifies to True and True, which is True. The answer is True.", "True"),
    ("llama2", "truefalse", "I'm just an AI, I cannot evaluate expressions with certainty.", None),
    ("gpt4", "truefalse", "Answer: `False`", "False"),
    # ---- labels: valid / invalid ----------------------------------------------------------
    ("orca2", "validity", "The conclusion does not follow from the premises. Therefore, the answer is invalid.", "invalid"),
    ("orca2", "validity", "Premise 1 and premise 2 together entail the conclusion. So the argument is valid.", "valid"),
    ("llama2", "validity", "Sure! Based on the premises, the argument is deductively invalid.", "invalid"),
    ("wizard", "validity", "Answer: valid\n\nThe conclusion follows from the premises; it is not invalid.", "valid"),
    ("wizard", "validity", "### Answer: invalid\n\nThe argument affirms the consequent, so it is not valid.", "invalid"),
    ("gpt4", "validity", "**Invalid** — the argument affirms the consequent, so it is not valid.", "invalid"),
    ("gpt4", "validity", "$\\boxed{\\text{valid}}$", "valid"),
    ("gpt4", "validity", "The premises do not support it, so the argument is invalid.", "invalid"),
    ("small", "validity", "It is valid.", "valid"),
    ("small", "validity", "valid", "valid"),
    ("small", "validity", "The argument is valid or invalid.", None),
    ("small", "validity", "Is the argument valid?", None),
    ("real", "validity", "The argument is deductively valid. It follows a logical structure of deductive reasoning.", "valid"),
    ("gpt4", "validity", "Invalid.\n\nA valid argument would need the converse premise.", "invalid"),
    ("llama2", "validity", "Thank you for the question! The answer is: valid.", "valid"),
    # ---- numbers (GSM8K, object counting, arithmetic) ---------------------------------------
    # Answer first: the first sentence states it, the rest explains it.
    ("gpt4", "number", "There are 9 coins: 4 dimes, 3 nickels and 2 pennies.", "9"),
    ("gpt4", "number", "She makes $18 every day: 16 - 3 - 4 = 9 eggs, and 9 * 2 = 18 dollars.", "18"),
    ("gpt4", "number", "**18**\n\nJanet has 16 - 3 - 4 = 9 eggs left and sells them at $2 each.", "18"),
    ("gpt4", "number", "$18.\n\nShe sells 9 eggs at $2 each.", "18"),
    ("gpt4", "number", "18 dollars.\n\n16 eggs - 3 - 4 = 9; 9 × $2 = $18.", "18"),
    ("gpt4", "number", "The total is 42 because 6 boxes hold 7 each and 6 * 7 = 42, not 36.", "42"),
    ("gpt4", "number", "It costs $5 because 2 apples at $1 and 1 melon at $3 add to 5 — not 6.", "5"),
    ("gpt4", "number", "There are 8 instruments: the flute, piano, violin, trombone, drums, 2 guitars and a harp.", "8"),
    ("gpt4", "number", "He needs 12 more bottles. Here's why: he has 8 and needs 20.", "12"),
    ("wizard", "number", "Answer: 18\n\nExplanation: she has 16 - 3 - 4 = 9 eggs and sells each for 2 dollars.", "18"),
    ("wizard", "number", "### Answer: 72\n\n### Explanation: 48 in April and 24 in May.", "72"),
    ("wizard", "number", "The answer is: 5\n\nBecause 2 + 3 = 5 and 10 - 5 = 5.", "5"),
    ("wizard", "number", "Answer:\n\n42\n\nBecause 6 * 7 = 42.", "42"),
    ("orca2", "number", "She sells 9 eggs at $2 each, so 9 * 2 = 18. The answer is 18.", "18"),
    ("orca2", "number", "Step 1: 16 - 3 - 4 = 9 eggs left.\nStep 2: 9 * 2 = 18.\nFinal answer: 18", "18"),
    ("orca2", "number", "First, she has 16 eggs. She uses 7, so 9 remain. 9 * $2 = $18. Therefore, the final answer is $18.",
     "18"),
    ("orca2", "number", "The answer is 18. (She ate 3 eggs and baked 4.)", "18"),
    ("orca2", "number", "At first the answer is 12, but I forgot the tax. The answer is 15.", "15"),
    ("orca2", "number", "Therefore, the final answer is 0.75", "0.75"),
    ("orca2", "number", "the answer is 3/4", "0.75"),
    ("orca2", "number", "So the answer is that she makes $18 every day.", "18"),
    ("orca2", "number", "The answer is **-5** degrees.", "-5"),
    ("orca2", "number", "#### 72", "72"),
    ("orca2", "number", "48 + 24 = 72\n#### 72", "72"),
    ("llama2", "number", "Sure! I'd be happy to help. Janet makes $18 every day at the farmers' market.", "18"),
    ("llama2", "number", "Great question! Let's break it down: 16 - 3 - 4 = 9, and 9 x 2 = 18. So Janet makes $18 per day.",
     "18"),
    ("llama2", "number", "I apologize, but I cannot provide financial advice.", None),
    ("llama2", "number", "Sure! The answer is 1,234.50 dollars.", "1234.5"),
    ("llama2", "number", "Final answer: $1,234.50", "1234.5"),
    ("gpt4", "number", "The answer is 5. Wait, recompute: \\boxed{6}", "6"),
    ("gpt4", "number", "$\\boxed{\\$1,000}$", "1000"),
    ("gpt4", "number", "\\boxed{\\frac{1}{2}} hmm \\boxed{42}", "42"),
    ("gpt4", "number", "**Answer: 18**", "18"),
    ("gpt4", "number", "16 − 3 − 4 = 9 eggs; 9 × $2 = **$18**.", "18"),
    # A question back to the user, numbers or not, is no answer.
    ("llama2", "number", "Could you clarify whether the 3 eggs she eats are included in the 16?", None),
    ("llama2", "number", "Do you mean 5 apples or 6 apples?", None),
    ("small", "number", "How many dollars does she make every day at the farmers' market if she sells 9 eggs?", None),
    ("llama2", "number", "Before I answer, can you tell me if the price is $2 per egg or per dozen?", None),
    # A question at the end does not hide an answer given before it.
    ("llama2", "number", "Janet makes $18 every day at the market. Do you have any other questions?", "18"),
    ("llama2", "organs", "I think it's (B), the kidney. Would you like to know more about how it filters blood?", "B"),
    ("llama2", "yesno", "The answer is clearly no. Is there anything else I can help you with?", "No"),
    ("llama2", "truefalse", "So the expression is False. Shall I explain each step?", "False"),
    # Hedges, refusals, nothing numeric.
    ("small", "number", "I don't know.", None),
    ("small", "number", "", None),
    ("llama2", "number", "As a responsible AI, I cannot answer questions about gambling.", None),
    # The last number, when nothing better marks the answer.
    ("small", "number", "16 - 3 - 4 = 9 eggs, and 9 * 2 = $18 per day.", "18"),
    ("small", "number", "It costs 1,000,000 dollars", "1000000"),
    ("small", "number", "It takes 2 + 1 = 3 bolts.", "3"),
    ("small", "number", "The temperature drops to −7", "-7"),
    ("small", "number", "18.00", "18"),
    ("small", "number", "She runs 10-3 miles", "3"),
    ("small", "number", "He pays .5 dollars", "0.5"),
    ("small", "number", "There are 60% left, i.e. 30 apples.", "30"),
    ("small", "number", "18", "18"),
    ("small", "number", "A: 8", "8"),
    ("real", "number", "A: 1\n\nThe flute, piano, violin, trombone, and drums are all musical instruments.", "1"),
    ("real", "number", "(-1 + 2 + 9 * 5) = 15", "15"),
    ("real", "number", "Janet’s ducks lay 16 eggs per day, which is 16 * 3 = 48 eggs per day. "
     "She sells 156 * 4 = 624 eggs per day.", "624"),
    # the phrase has no number before its sentence ends: the last number
    ("small", "number", "Answer: Let me think. She has 16 eggs and eats 3.", "3"),
    ("orca2", "number", "She earns 9 * 2 = 18 dollars.\nThe answer is 18", "18"),
    ("wizard", "number", "Answer: $18.00\n\nShe sells 9 eggs.", "18"),
    ("gpt4", "number", "There are **7** fruits: 3 apples, 2 pears, 1 plum and 1 fig.", "7"),
    ("llama2", "number", "Sure thing! There are 7 fruits in total — 3 apples, 2 pears, 1 plum and 1 fig.", "7"),
    ("orca2", "number", "Answer: -4", "-4"),
    ("small", "number", "The answer is 5 or 6.", None),
    ("llama2", "number", "The answer is either 12 or 15, depending on the tax.", None),
    # ---- Dyck languages ------------------------------------------------------------------
    ("orca2", "dyck", "We must close [ and then {. The answer is ] }", "] }"),
    ("orca2", "dyck", "The answer is ] ] >", "] ] >"),
    ("wizard", "dyck", "Answer: ]]>", "] ] >"),
    ("wizard", "dyck", "Answer: ] )\n\nExplanation: the stack holds ( then ], closed in reverse: ] )", "] )"),
    ("wizard", "dyck", "### Answer: } >\n\nWe opened < then {.", "} >"),
    ("gpt4", "dyck", "We close { then [: `} ]`", "} ]"),
    ("gpt4", "dyck", "`] )`\n\nThe open brackets are ( and [; closing in reverse gives ] then ).", "] )"),
    ("gpt4", "dyck", "**] ) >**", "] ) >"),
    ("gpt4", "dyck", "The answer is [ ( ) ]", "[ ( ) ]"),  # the whole sequence again: read as said (and scored wrong)
    ("llama2", "dyck", "Sure! To close the sequence, we need: ] }", "} ]"[::-1].replace(" ", " ") if False else "] }"),
    ("llama2", "dyck", "I apologize, but I cannot complete the sequence.", None),
    ("small", "dyck", "No brackets here.", None),
    ("small", "dyck", "] ]", "] ]"),
    ("small", "dyck", "Do you want me to close ( [ with ] )?", None),
    ("small", "dyck", "[A:\n\nPascal's Triangle is a triangular array of numbers.", None),
    ("orca2", "dyck", "Final answer: > ] )", "> ] )"),
    # ---- word sorting --------------------------------------------------------------------
    ("orca2", "words", "The answer is: apple syndrome therefrom", "apple syndrome therefrom"),
    ("orca2", "words", "Sorted list:\n1. apple\n2. syndrome\n3. therefrom", "apple syndrome therefrom"),
    ("gpt4", "words", "**Apple, Syndrome, Therefrom.**", "apple syndrome therefrom"),
    ("small", "words", "The answer is: apple banana syndrome therefrom", "apple"),
    ("small", "words", "apple comes first, then syndrome.\napple syndrome therefrom", "apple syndrome therefrom"),
    ("small", "words", "Nothing to sort.", None),
    ("wizard", "words", "Answer: apple syndrome therefrom\n\nExplanation: a comes before s, and s before t.",
     "apple syndrome therefrom"),
    ("wizard", "words", "### Answer: apple, syndrome, therefrom\n\napple starts with a.", "apple syndrome therefrom"),
    ("gpt4", "words", "apple syndrome therefrom\n\n'apple' (a) < 'syndrome' (s) < 'therefrom' (t).", "apple syndrome therefrom"),
    ("llama2", "words", "Sure! Here are the words in alphabetical order:\n\n1. apple\n2. syndrome\n3. therefrom",
     "apple syndrome therefrom"),
    ("llama2", "words", "Sure! In alphabetical order: apple, syndrome, therefrom.", "apple syndrome therefrom"),
    ("small", "words", "Do you want apple syndrome therefrom sorted?", None),
    # ---- math (AGIEval math) ---------------------------------------------------------------
    ("gpt4", "math", "so $x = \\boxed{\\frac{\\sqrt{6}}{3}}$", "\\frac{\\sqrt{6}}{3}"),
    ("orca2", "math", "The answer is $(3,4]$.", "(3,4]"),
    ("orca2", "math", "Final answer: 0.25 cm. Done.", "0.25 cm"),
    ("small", "math", " $\\frac{1}{2}$.", "\\frac{1}{2}"),
    ("small", "math", "We get $x=2$, hence $y = \\sqrt{5}$", "y = \\sqrt{5}"),
    ("small", "math", "The value is 12 or so", "12"),
    ("small", "math", "no idea", None),
    ("wizard", "math", "Answer: $\\frac{3}{4}$\n\nExplanation: divide 3 by 4, and $x=1$ is a red herring.", "\\frac{3}{4}"),
    ("wizard", "math", "### Answer: $12$\n\nWe add $5$ and $7$.", "12"),
    ("gpt4", "math", "**Answer:** $\\boxed{2\\sqrt{3}}$", "2\\sqrt{3}"),
    ("llama2", "math", "Could you tell me whether $x$ is positive, so I can choose between $2$ and $-2$?", None),
    ("orca2", "math", "We simplify, and $x = 2$ is a red herring. Final answer: $\\frac{1}{3}$. This completes the solution.",
     "\\frac{1}{3}"),
    ("llama2", "math", "I apologize, but this problem cannot be solved.", None),
    # ---- last word (LAMBADA) ---------------------------------------------------------------
    ("small", "word", "signs", "signs"),
    ("small", "word", "Signs.", "signs"),
    ("orca2", "word", 'The missing word is "signs".', "signs"),
    ("gpt4", "word", "The last word is probably **signs**.", "signs"),
    ("wizard", "word", "Answer: signs\n\nThe passage talks about road signs.", "signs"),
    ("gpt4", "word", "**signs**", "signs"),
    ("small", "word", "", None),
    # ==== issue 21: styles of 2024-2026 models, written blind to the rules ====================
    # ---- class 1: structured answers (JSON, tables, code fences) -----------------------------
    ("gpt4o", "organs", '```json\n{\n  "reasoning": "The kidney filters blood; the bladder only stores urine.",\n'
     '  "answer": "B"\n}\n```', "B"),
    ("gpt4o", "distance", '{"reasoning": "3 km/h for 4 hours gives 12 km.", "final_answer": "(C) 12 km"}', "C"),
    ("qwen", "number", '```json\n{"steps": ["16 - 3 - 4 = 9", "9 * 2 = 18"], "answer": 18}\n```', "18"),
    ("qwen", "number", 'Here is my solution in JSON:\n{"explanation": "She saves $60 for 4 weeks.", "final_answer": "$240"}',
     "240"),
    ("mistral", "yesno", '{"thought": "The premise does not entail the claim.", "answer": "No"}', "No"),
    ("phi", "planets", '```json\n{"correct_option": "B", "justification": "Mercury orbits closest."}\n```', "B"),
    ("llama3", "learning", 'Output:\n{"Answer": "Operant conditioning", "Reason": "behaviour shaped by rewards"}', "B"),
    ("gpt4o", "truefalse", '{\n  "analysis": "not (True) is False, and False or False is False.",\n  "result": "False"\n}',
     "False"),
    ("claude", "organs", "Let me lay out each option:\n\n| Option | Organ | Filters blood? |\n|---|---|---|\n"
     "| A | Bladder | No |\n| B | Kidney | ✅ Yes |\n| C | Ureter | No |\n| D | Urethra | No |", "B"),
    ("gpt4o", "planets", "| Option | Planet | Closest? |\n|--------|--------|---------|\n| A | Venus | ❌ |\n"
     "| B | Mercury | ✅ |\n| C | Mars | ❌ |\n| D | Jupiter | ❌ |", "B"),
    ("qwen", "learning", "| | Term | Fits? |\n|---|---|---|\n| (A) | Classical conditioning | |\n"
     "| **(B)** | **Operant conditioning** | **rewards shape behaviour** |\n| (C) | Observational learning | |", "B"),
    ("gpt4o", "number", "The answer:\n\n```\n42\n```", "42"),
    ("llama3", "organs", "Final answer:\n```\nB\n```", "B"),
    ("tiny", "yesno", "```\nYes\n```", "Yes"),
    # unparsed: a structure that holds no answer, or two
    ("gpt4o", "organs", '{"reasoning": "The kidney filters blood.", "answer": null}', None),
    ("qwen", "organs", '```json\n{"answer": "B or C", "confidence": "low"}\n```', None),
    ("claude", "organs", "| Option | Filters blood? |\n|---|---|\n| A | ✅ |\n| B | ✅ |\n| C | ❌ |\n| D | ❌ |", None),
    ("phi", "number", '```json\n{"answer": "unknown", "reason": "the price is not given"}\n```', None),
    ("mistral", "organs", '```python\ndef filters_blood(organ):\n    return organ == "kidney"\n```', None),
    # ---- class 2: options named by position or by value -------------------------------------
    ("llama3", "organs", "Option 2 is correct: the kidney filters the blood.", "B"),
    ("qwen", "colors", "Counting the items, the brown one is sixth, so I pick choice #6.", "F"),
    ("mistral", "planets", "The answer is option 2.", "B"),
    ("gpt4o", "cell", "I'd go with the 3rd choice, since mitochondria make ATP.", "C"),
    ("phi", "learning", "Option 2 is the best fit here because the rat is rewarded.", "B"),
    ("tiny", "organs", "The correct answer is option number 2.", "B"),
    ("llama3", "ages", "Adding the three ages: 12 + 11 + 14 = 37.\n\nSo the total age is 37.", "C"),
    ("claude", "planets", "Mercury orbits at about 0.39 AU, far inside Venus.\n\nThe closest planet is Mercury.", "B"),
    ("gpt4o", "tomorrow", "Today is 11/02/2019, so adding one day gives us the date.\n\nTomorrow is 11/03/2019.", "B"),
    ("gemma", "learning", "**Operant conditioning.**\n\nThe rat learns that pressing the lever brings food.", "B"),
    ("qwen", "distance", "Speed times time: 3 km/h × 4 h = 12 km. So she walked 12 km.", "C"),
    ("mistral", "distance", "She walks for 4 hours at 3 km/h, which means a distance of 12 km in total.", "C"),
    ("claude", "learning", "The behaviour is shaped by its consequences, which is the hallmark of operant conditioning.",
     "B"),
    ("phi", "ages", "Tom is 12, Ann is 11 and Bo is 14; their ages add up to 37 years.", "C"),
    ("gpt4o", "share", "3 of the 10 students is 3/10, which is **30%**.", "C"),
    ("llama3", "tomorrow", "The date tomorrow is **11/03/2019**.", "B"),
    ("gemma", "planets", "The planet closest to the Sun is **Mercury**!", "B"),
    ("r1", "colors", "So the object left of the blue one is the green one. The answer is green.", "D"),
    ("llama3", "count", "Grey objects: 4 books + 3 pens + 4 mugs = 11.\n\nSo there are 11 grey objects on the floor.", "C"),
    ("gemma", "count", "The number of grey objects on the floor is **11**.", "C"),
    ("qwen", "count", "There are 10 or 11 grey objects, depending on the mug.", None),
    # an option's text under a letter the question does not have still names that option
    ("gemma", "organs", "(E) Kidney\n\nWhich organ stores urine?\n(A) Bladder\n(B) Kidney\n(C) Ureter\n(D) Urethra", "B"),
    ("tiny", "cell", "\n(F) The mitochondria", "C"),
    # unparsed: two options match, the option only as the subject, hedged positions
    ("claude", "planets", "Mercury is closest on average, but Venus comes nearest to Earth; it depends on what you mean.",
     None),
    ("gpt4o", "learning", "This involves both classical conditioning and operant conditioning.", None),
    ("qwen", "organs", "The answer is option 2 or option 3.", None),
    ("llama3", "tomorrow", "It is either 11/03/2019 or 11/04/2019, depending on the time zone.", None),
    ("mistral", "ages", "Their ages are 35 and 37.", None),
    ("tiny", "planets", "Venus and Mars are planets. Jupiter is big.", None),
    # the first line is an option's text, and the next lines go on listing the options: no answer
    ("gemma", "learning", "Classical conditioning\nB: Operant conditioning\nC: Observational learning\nD: Habituation",
     None),
    ("gemma", "organs", " Bladder.\n(B) Kidney\nQ: Which organ filters blood?", None),
    ("phi", "learning", "Operant conditioning is the best description of what happens to the rat.", "B"),
    ("tiny", "planets", "Mercury is the best answer here.", "B"),
    # ---- class 3: letters in phrasings the old rules did not know -----------------------------
    ("llama3", "organs", "I'd pick B — the kidney filters blood.", "B"),
    ("gpt4o", "cell", "My choice: (C)\n\nMitochondria carry out cellular respiration.", "C"),
    ("claude", "learning", "Weighing the options, the rat's lever pressing is reinforced by food.\n\n**Choice B**", "B"),
    ("qwen", "planets", "Correct option → B", "B"),
    ("mistral", "organs", "Looking at the functions, Option B is correct.", "B"),
    ("phi", "cell", "After comparing all four, the best answer would be C.", "C"),
    ("gemma", "organs", "Okay, I'll go with (B), the kidney.", "B"),
    ("tiny", "planets", "i choose B", "B"),
    ("r1", "learning", "So my final pick is B.", "B"),
    ("gpt4o", "colors", "Going with **(F)** – the brown item.", "F"),
    ("llama3", "cell", "(C) is the most likely answer, because mitochondria produce ATP.", "C"),
    ("claude", "organs", "Between the four, I would select B: only the kidney filters blood.", "B"),
    ("qwen", "dates", "My answer → F", "F"),
    ("phi", "planets", "Mercury is the closest to the Sun, so my pick would be B.", "B"),
    # unparsed: negated, hedged, asked, or a lower-case word
    ("llama3", "organs", "I wouldn't pick B here, nor A.", None),
    ("gpt4o", "organs", "I'd pick B or C; both seem reasonable.", None),
    ("mistral", "organs", "Would you pick B too?", None),
    ("tiny", "organs", "i'd pick a big one", None),
    ("claude", "planets", "Option B is not correct, and neither is option C.", None),
    # a final-answer phrase the output then contradicts ("Option (B) is incorrect") is no answer
    ("small", "organs", "The correct answer is (B).\n\nOption (A) is incorrect because the bladder stores urine.\n\n"
     "Option (B) is incorrect because the kidney only makes urine.", None),
    ("tiny", "cell", "Answer: C\n\nC is wrong because the mitochondria make ATP, not proteins.", None),
    ("small", "planets", "The answer is (B) Mercury.\n\nOption (B) is wrong, since Venus is hotter.", None),
    ("llama2", "dates", "The answer is (F).\n\nExplanation:\n(F) is not correct, because one week before 01/01/2019 "
     "is 12/25/2018.", None),
    # ... but other options said to be wrong explain the answer, and so does a view the output rejects
    ("llama2", "organs", "The correct answer is (B).\n\nOption (A) is incorrect because the bladder only stores urine. "
     "Option (C) is incorrect because the ureter carries urine.", "B"),
    ("gpt4", "organs", "The answer is **B**. Some would say B is wrong because the bladder also holds urine, but only "
     "the kidney filters blood.", "B"),
    # ---- class 4: the concluding sentence of a number answer ----------------------------------
    ("llama3", "number", "Maria saves $60 each week.\n\nAfter 4 weeks: 4 × $60 = $240.\n\nSo Maria will have $240 "
     "after 4 weeks.", "240"),
    ("qwen", "number", "Each ticket costs $12 and there are 5 people.\nSo the family pays $60 in total for 5 tickets.",
     "60"),
    ("gpt4o", "number", "### Step 1\nEggs left: 16 − 3 − 4 = 9\n\n### Step 2\nRevenue: 9 × 2 = 18\n\n"
     "Janet makes **$18** every day.", "18"),
    ("mistral", "number", "He runs 3 sprints 3 times a week, each 60 meters: 3 * 3 * 60 = 540. Therefore he runs 540 "
     "meters a week.", "540"),
    ("phi", "number", "The discount is 20% of $50, i.e. $10. So the final price is $40 after the 20% discount.", "40"),
    ("claude", "number", "Working it through: 48 clips in April, half as many (24) in May. Altogether that is 72 clips "
     "over the 2 months.", "72"),
    ("gemma", "number", "Total = 15 + 27 = 42\n\nSo there are 42 marbles in 3 bags.", "42"),
    ("tiny", "number", "5 + 7 = 12", "12"),
    ("llama3", "number", "In total, Tom will have saved $1,250 by the end of 5 months.", "1250"),
    ("qwen", "number", "The remaining budget is therefore $3.50 after buying 2 pens.", "3.5"),
    ("r1", "number", "Hmm, so each group gets 8 apples: 32 ÷ 4 = 8. So each of the 4 groups gets 8 apples.", "8"),
    ("gpt4o", "number", "She needs 3 more boxes, since 10 - 7 = 3.", "3"),
    # a concluding sentence that asserts several quantities: the main clause's over what is left over
    # besides it, or what the answer is for
    ("gpt4", "number", "There are 40 students and each pack has 6 pencils.\n40 / 6 is about 6.67, so we round up.\n"
     "Therefore, she needs to buy 7 packs, and she will have 2 pencils left over.", "7"),
    ("orca2", "number", "There are 15 children and 3 cookies each.\nTherefore, the baker will need 5 trays so that every "
     "child can have 3 cookies.", "5"),
    ("llama3", "number", "So Tom will have 4 full boxes, and he has 3 apples remaining.", "4"),
    ("claude", "number", "So the school has to order 12 buses, with 9 seats to spare.", "12"),
    # ... where the leftover is what the sentence's main clause asserts, it is the answer
    ("gpt4", "number", "Therefore, after buying 7 packs, she will have 2 pencils left over.", "2"),
    ("qwen", "number", "So there are 2 glue sticks left over.", "2"),
    ("mistral", "number", "So he needs 3 or 4 packs, and he will have 2 glue sticks left over.", None),
    # unparsed: a hedge, or no number asserted at all
    ("llama3", "number", "So Maria will have $240 or $260, depending on the bonus.", None),
    ("mistral", "number", "The result is somewhere around 40 or 50 apples.", None),
    ("claude", "number", "I'm not sure the problem gives enough to decide how much Maria saves each week.", None),
    ("qwen", "number", "The problem doesn't say how many tickets she bought — could you tell me?", None),
    ("phi", "number", "Could you tell me how many of the 16 eggs she eats each morning?", None),
    # ---- class 5: \\boxed{} with nested braces ------------------------------------------------
    ("r1", "number", "The total is $\\boxed{3{,}450}$ dollars.", "3450"),
    ("qwen", "number", "So the fraction is \\(\\boxed{\\frac{3}{4}}\\).", "0.75"),
    ("r1", "number", "**Final Answer**\n\\[\n\\boxed{\\$75}\n\\]", "75"),
    ("qwen", "organs", "**Final Answer**\n\\[\n\\boxed{\\text{(B)}}\n\\]", "B"),
    ("r1", "cell", "Thus the answer is \\(\\boxed{\\text{C}}\\).", "C"),
    ("gpt4o", "number", "$$\\boxed{1{,}000{,}000}$$", "1000000"),
    ("qwen", "math", "Therefore $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}"),
    ("r1", "number", "So \\( x = \\boxed{12 \\text{ km}} \\).", "12"),
    ("qwen", "yesno", "\\[\\boxed{\\text{No}}\\]", "No"),
    ("r1", "number", "\\boxed{-\\frac{1}{2}}", "-0.5"),
    # a boxed quantity in scientific notation (LaTeX) names the option with that value and unit
    ("r1", "speeds", "Solving for the new speed gives $\\boxed{2.25\\times 10^6\\,\\text{m/s}}$.", "B"),
    ("qwen", "speeds", "**Final Answer**\n\\[\n\\boxed{2.5 \\times 10^{5}\\ \\text{m/s}}\n\\]", "C"),
    ("gpt4o", "speeds", "v = 3 × 10^6 m/s, so \\boxed{3.0 \\cdot 10^6 \\text{ m/s}}", "D"),
    ("r1", "speeds", "\\boxed{1500000 \\text{ m/s}}", "A"),
    ("r1", "speeds", "\\boxed{2.0\\times 10^6\\,\\text{m/s}}", None),  # no option has that value
    ("r1", "speeds", "\\boxed{2.25\\times 10^6\\,\\text{km/s}}", None),  # nor that unit
    # ---- class 6: a model that keeps going with an invented next turn -------------------------
    ("tiny", "number", "The answer is 18.\n\nQuestion: Tom has 5 apples and eats 2. How many are left?\nAnswer: 3",
     "18"),
    ("tiny", "organs", "B\n\nQ: Which organ stores urine?\nA: A", "B"),
    ("gemma", "yesno", "No, the argument is not valid.\n\nHuman: Is the sky blue?\nAssistant: Yes.", "No"),
    ("tiny", "planets", "Mercury\n\n### Instruction:\nName the largest planet.\n\n### Response:\nJupiter", "B"),
    ("phi", "number", "So she makes $18 every day.\n<|user|>\nHow much in a week?\n<|assistant|>\n$126", "18"),
    ("tiny", "number", "9 * 2 = 18 dollars a day.\nUser: And in a week?\nAssistant: 18 * 7 = 126", "18"),
    ("gemma", "cell", "The mitochondria (C).\n\nQuestion 2: Which organelle makes proteins?\nThe ribosome (B).", "C"),
    ("tiny", "learning", "Operant conditioning\nQ: What is habituation?\nA: Habituation is getting used to a "
     "stimulus.", "B"),
    # the prompt's own format words in the answer are no new turn
    ("tiny", "organs", "Question: Which organ filters blood?\nAnswer: B", "B"),
    ("llama3", "number", "Q: How much does Janet make?\nA: 16 - 3 - 4 = 9 eggs, 9 * $2 = $18. The answer is 18.", "18"),
    # unparsed: the only answer is to a question the model made up
    ("tiny", "number", "Let me think about this.\n\nQuestion: What is 2 + 2?\nAnswer: 4", None),
    ("tiny", "organs", "Here is another question.\n\nQ: Which organ stores urine?\nA: (A) Bladder", None),
    ("gemma", "yesno", "Let's see.\nHuman: Is water wet?\nAssistant: Yes", None),
    ("tiny", "planets", "Sure.\n### Instruction:\nWhich planet is largest?\n### Response:\nThe answer is D.", None),
    ("tiny", "number", "Okay.\nQ1: A farmer has 12 cows and buys 5. How many now?\nA1: 17", None),
    # new questions in the prompt's format without a turn marker (a statement, a fresh option list,
    # "Answer: (D)"), each answered: the answer before the first counts, else only the first block's own
    ("gemma", "organs", " (B)\n\nWhich organ stores urine?\n" + ORGAN_LIST + "Answer: (A)\n\n"
     "Which organ carries urine out?\n" + ORGAN_LIST + "Answer: (D)", "B"),
    ("tiny", "cell", "The mitochondria.\n\nWhich organelle makes proteins?\n" + CELL_LIST + "Answer: B\n\n"
     "Which organelle stores DNA?\n" + CELL_LIST + "Answer: A", "C"),
    ("gemma", "organs", "Which organ filters blood?\n" + ORGAN_LIST + "Answer: (B)\n\n"
     "Statement 2 | The bladder stores urine.\n" + ORGAN_LIST + "Answer: (A)\n\n"
     "Statement 3 | The ureter carries urine.\n" + ORGAN_LIST + "Answer: (C)", "B"),
    ("tiny", "organs", "Here we go.\n\nWhich organ filters blood?\n" + ORGAN_LIST + "Answer: (A) or (B)\n\n"
     "Which organ stores urine?\n" + ORGAN_LIST + "Answer: (A)", None),  # the only answer of its own is a hedge
    ("tiny", "organs", "Let's practise.\n\nWhich organ stores urine?\n" + ORGAN_LIST + "Answer:\n\n"
     "Which organ carries urine out?\n" + ORGAN_LIST + "Answer: (D)", None),
    # one block is the question restated with its answer, and an answer may quote the option list
    ("llama3", "organs", "The kidney filters the blood; the others store or carry urine.\n" + ORGAN_LIST + "Answer: (B)",
     "B"),
    ("phi", "organs", "Let's review the options:\n" + ORGAN_LIST + "\nAnswer: (B)\n\nAgain, the options are:\n"
     + ORGAN_LIST + "\nThe kidney is the one that filters blood.", "B"),
    # ---- class 7: loops and outputs cut off mid-working --------------------------------------
    ("tiny", "number", "Step 1: 5 + 5 = 10\n" * 8, None),
    ("tiny", "organs", "The kidney filters blood and the bladder stores urine (A).\n" * 6, None),
    ("gemma", "yesno", "Is the argument valid? Let me check again. " * 8, None),
    ("tiny", "number", "She has 16 eggs. She eats 3. She bakes 4. She sells the rest. " * 5, None),
    ("tiny", "planets", "Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus, Neptune and Pluto. " * 5, None),
    ("llama3", "number-cut", "Let's break this down.\n\n1. Janet's ducks lay 16 eggs per day.\n2. She eats 3 for "
     "breakfast, leaving 16 - 3 = 13.\n3. She bakes muffins with 4, leaving 13 - 4 = 9.\n4. She sells each egg for",
     None),
    ("qwen", "organs-cut", "Let's analyze each option.\n\n(A) Bladder: stores urine, does not filter blood.\n"
     "(B) Kidney: filters blood and", None),
    ("mistral", "yesno-cut", "To determine whether the argument is deductively valid, we look at the premises. "
     "First, every friend of Lesley is a cousin of Joe. Second, no", None),
    ("phi", "planets-cut", "The planets in order from the Sun are Mercury, Venus, Earth and", None),
    ("r1", "number-cut", "First, compute the weekly savings: 60 dollars. Then over 4 weeks we get 4 × 60 = 240. "
     "But wait, there is also the bonus of", None),
    ("gemma", "organs", "A: The organ is the kidney.\nB: The organ is the kidney.\nC: The organ is the kidney.\n"
     "D: The organ is the kidney.", None),  # one line repeated under the options' marks
    ("tiny", "number", "So she has 12 apples, which is 12 apples, which is 12 apples, which is 12 apples, which is 12 "
     "apples, which is 12 apples", None),
    ("tiny", "word", " I'm not going to lie. I'm not going to lie. I'm not going to lie. I'm not going to lie.", None),
    # an explicit answer before the cut or the loop still counts
    ("gemma", "word", " signs and kept driving.\n\nI was so tired that I didn't want to drive. I was so tired that I didn't "
     "want to drive.\n\nI was so tired that I didn't want to drive. I was so tired that I didn't want to drive.", "signs"),
    ("llama3", "number-cut", "The answer is 18.\n\nHere's why: Janet's ducks lay 16 eggs, she eats 3 and bakes with",
     "18"),
    ("qwen", "organs-cut", "**Answer: B**\n\nExplanation: the kidney filters the blood, while the bladder", "B"),
    ("mistral", "yesno-cut", "Answer: No\n\nThe argument commits the fallacy of", "No"),
    ("tiny", "number", "The answer is 540.\n" + "He runs 60 meters each sprint.\n" * 6, "540"),
    ("gemma", "planets-cut", "\\boxed{B}\n\nMercury is the closest planet to the Sun, at an average distance of",
     "B"),
    # an answer phrase that is itself part of the loop is no answer: the loop repeats the phrase with
    # nothing after it, or runs on inside the phrase's own sentence
    ("tiny", "number", "Each box holds 8 pens.\nSo the answer is 8 times the number of boxes, which is 8 times the "
     "number of boxes, which is 8 times the number of boxes, which is 8 times the number of boxes", None),
    ("gemma", "organs", ":\n" + "".join(f"{letter}: Among A through D, the answer is:\n" for letter in "BCDABCDABC") + "D:",
     None),
    ("tiny", "number-cut", "Tickets cost $12 each.\nTherefore, the answer is 25% of 48, which is 25% of 48, which is "
     "25% of 48, which is 25% of 48, which is 25% of", None),
    ("llama3", "number-cut", "We need the total.\nThe final answer is the sum of 3 and " + "the sum of 3 and " * 6, None),
    # ... but an answer stated once before the loop counts, and so does a loop that states the answer itself
    ("tiny", "organs", "The answer is (B).\n" + "The kidney filters the blood and makes the urine.\n" * 5, "B"),
    ("gemma", "organs", " B.\n" + "".join(f"{letter}: Among A through D, the answer is B.\n" for letter in "CDABCDAB"),
     "B"),
    ("tiny", "number", "The answer is 42. " * 6, "42"),
    ("tiny", "number-cut", "So she makes $18 a day.\nThe answer is 18.\n" + "Janet sells the eggs at the market.\n" * 5
     + "Janet sells", "18"),
    # ---- class 8: questions back, missing information, hedges --------------------------------
    ("llama3", "number", "To solve this I need the price of one ticket. Could you provide it? With 4 tickets the "
     "total would follow.", None),
    ("claude", "number", "The problem doesn't specify how many hours she works per week, so the weekly pay cannot be "
     "determined from 15 dollars an hour alone.", None),
    ("gpt4o", "yesno", "This is a tricky case. On one hand, the premises suggest a yes; on the other, the second premise "
     "is ambiguous.", None),
    ("claude", "truefalse", "It depends on how we read the first clause: True under one reading and False under the "
     "other.", None),
    ("mistral", "validity", "On one hand the conclusion follows; on the other, the premise is too weak to say valid "
     "or invalid.", None),
    ("qwen", "organs", "I need more information to choose among A, B, C and D.", None),
    ("phi", "number", "Please provide the number of students in the class; then 30% of them can be computed.", None),
    ("gemma", "yesno", "Hmm, it's hard to say yes or no here.", None),
    # a continuation said to be missing rather than given is no answer (LAMBADA)
    ("small", "word", "The sentence is missing the last word.", None),
    ("tiny", "word", "Sergei put down the lamp and looked at me.\n\nThe passage is missing its final word.", None),
    ("llama2", "word", "Unfortunately the last word is missing from the passage, so it cannot be completed.", None),
    ("small", "word", "Helen said nothing more. The final word was missing.", None),
    ("tiny", "word", "lamp. The sentence was missing the last word.", "lamp"),
    ("gpt4", "word", "The sentence is missing the last word. The missing word is \"chains\".", "chains"),
    # a verdict after weighing both sides is an answer
    ("claude", "yesno", "On one hand the premises look strong; on the other, one is ambiguous. On balance, the answer "
     "is Yes.", "Yes"),
    ("gpt4o", "number", "The problem doesn't say when she started, but that does not matter: the answer is 72.", "72"),
    # ---- more of each class, across styles ----------------------------------------------------
    ("llama3", "organs", "**Answer:** B) Kidney\n\n**Explanation:** The kidneys filter waste from the blood.", "B"),
    ("llama3", "yesno", "**No**, because the conclusion does not follow from the premises.", "No"),
    ("llama3", "planets", "The correct answer is (B) Mercury. Mercury is the closest planet to the Sun.", "B"),
    ("llama3", "number", "Janet makes $18 every day at the farmers' market.", "18"),
    ("qwen", "cell", "Mitochondria are the powerhouse of the cell.\n\n**Answer: C**", "C"),
    ("qwen", "number", "Total cost: 3 × $4 + 2 × $5 = $22\n\n**Final answer: $22**", "22"),
    ("qwen", "tomorrow", "Adding one day to 11/02/2019 gives **B) 11/03/2019**.", "B"),
    ("mistral", "cell", " The correct answer is C) The mitochondria.", "C"),
    ("mistral", "number", " To find the total, we multiply 12 by 3 to get 36. Then we add 4 to get 40. The answer is 40.",
     "40"),
    ("mistral", "learning", " The correct answer is B. Operant conditioning is learning through consequences.", "B"),
    ("phi", "organs", "The organ that filters blood is the kidney. Therefore, the correct answer is B.", "B"),
    ("phi", "yesno", "Based on the premises, the argument is deductively valid.\n\nAnswer: Yes", "Yes"),
    ("gemma", "number", "Okay, let's solve this!\n\n* Eggs per day: 16\n* Eggs eaten: 3\n* Eggs for muffins: 4\n"
     "* Eggs left: 16 - 3 - 4 = 9\n* Money made: 9 * $2 = $18\n\nSo the answer is **$18**.", "18"),
    ("gemma", "organs", "The answer is **(B) Kidney**.", "B"),
    ("gemma", "truefalse", "**False**", "False"),
    ("r1", "organs", "<think>\nThe kidney filters blood. Bladder stores. So B.\n</think>\n\nThe correct answer is **B**.",
     "B"),
    ("r1", "number", "<think>\n16-3-4=9, 9*2=18. Let me double check: yes 18.\n</think>\n\n**Answer:** $18", "18"),
    ("r1", "yesno", "<think>\nPremise 1... premise 2... so it doesn't follow.\n</think>\n\n\\boxed{No}", "No"),
    ("gpt4o", "number", "**Solution:**\n\n1. Eggs left: 16 − 3 − 4 = 9\n2. Income: 9 × $2 = **$18**", "18"),
    ("gpt4o", "learning", "The scenario describes **operant conditioning** (B): behaviour reinforced by a reward.", "B"),
    ("claude", "cell", "The answer is (C), the mitochondria. They're the site of cellular respiration.", "C"),
    ("claude", "number", "Let me work through this step by step.\n\nJanet has 16 − 3 − 4 = 9 eggs to sell, and at $2 "
     "each she earns 9 × $2 = $18 a day.\n\nJanet makes $18 every day.", "18"),
    ("tiny", "organs", "B. Kidney", "B"),
    ("tiny", "number", "18 dollars", "18"),
    ("tiny", "yesno", "yes", "Yes"),
    ("tiny", "planets", "mercury", "B"),
    # A repetition that the model closes with a conclusion of its own, having stopped by itself: the conclusion
    # is the answer. Cut off instead, or "concluding" with more of the loop, it is none.
    ("small", "number", CHECKING + 'Therefore, the answer is 18.', "18"),
    ("small", "organs", CHECKING + 'So the answer is (B) Kidney.', "B"),
    ("small", "number-cut", CHECKING + 'Therefore, the answer is 18 plus', None),
    ("small", "organs", CHECKING + 'Let me check each fact against', None),
    # The same for a conclusion the conclusion layer reads (the gate keeps it off the loop, not off new text
    # after it); a weak reading of that text, or a cut-off output, is still none.
    ("small", "number", CHECKING + "So she has 18 eggs left.", "18"),
    ("small", "planets", CHECKING + "The closest planet is Mercury.", "B"),
    ("small", "number-cut", CHECKING + "So she has 18 eggs left.", None),
    ("small", "number", CHECKING + "She has 16 eggs and eats 3", None),
    ("small", "yesno", CHECKING + "yes", None),
    # ---- the conclusion read against the question (orcabench.answers.question) -----------------------
    # A yes/no question about a state ("Is the coin still heads up?"), answered by a sentence that asserts the
    # subject in that state (yes) or its stated opposite (no); a negation between them turns it round.
    ("gpt4", "coin", "Ka flips the coin, so it is tails up. Sherrie flips it again, so the coin is heads up "
     "again.", "Yes"),
    ("orca2", "coin", "Ka flips the coin once and Sherrie flips it once more.\n\nSo the coin is tails up.", "No"),
    ("llama3", "coin", "Two flips cancel each other out. Therefore, the coin is still heads up.", "Yes"),
    ("small", "coin", "Ka flips the coin. Sherrie flips the coin. The coin ends up tails up.", "No"),
    ("claude", "coin", "After the two flips, the coin is no longer heads up.", "No"),
    ("gemma", "plausible", '"Joao Moutinho caught the screen pass" is a sentence that is plausible because it is a '
     'true story.', "yes"),
    ("qwen", "plausible", "Joao Moutinho is a soccer player, so the sentence is implausible.", "no"),
    ("mistral", "plausible", "The sentence is not plausible: Joao Moutinho plays football, not American football.",
     "no"),
    # ... and what stays unparsed or as the format's own rules read it: both states named, no state, a question,
    # a state with no subject before it, a cut-off working, an explicit answer (never overruled).
    ("small", "coin", "The coin could be heads up or tails up.", None),
    ("small", "coin", "It depends on whether Sherrie really flips the coin.", None),
    ("tiny", "coin", "Ka flips it and Sherrie flips it. Is the coin heads up?", None),
    ("tiny", "coin", "Heads up means the side with the face is on top.", None),
    ("small", "coin-cut", "Ka flips the coin, so the coin is now tails up. Sherrie flips the coin, so the coin is",
     None),
    ("orca2", "coin", "The coin is heads up at the end.\nTherefore, the answer is No.", "No"),
    ("llama2", "plausible", "I'm not sure: the sentence could be plausible if he switched sports.", None),
    # Kojima et al.'s answer trigger written out by the model: the labels in brackets name the choices, the
    # label after them is the answer; with none after them, or two, there is none.
    ("orca2", "coin", "Ka and Sherrie each flip it.\nTherefore, the answer (Yes or No) is Yes.", "Yes"),
    ("small", "truefalse", "Therefore, the answer (True or False) is False.", "False"),
    ("small", "yesno", "So the answer (yes/no): no", "No"),
    ("small", "yesno", "The answer (Yes or No) is yes or no.", None),
    ("small", "yesno", "Therefore, the answer (Yes or No) is", None),
    ("small", "yesno", "Therefore, the answer (Yes or No) is not clear from the premises.", None),
    ("tiny", "truefalse", "the answer (True or False) is:\n", None),
    ("tiny", "yesno", "The answer is Yes or No.", None),
    # A number conclusion naming several quantities answers with the one the question asks ("how many gold
    # coins"), and not with a number that only restates the question's data.
    ("orca2", "gold", "110 - 30 = 80, and 80 / 2 = 40.\n\nTherefore, Gretchen has 40 silver coins and 70 gold "
     "coins.", "70"),
    ("llama3", "gold", "In the end, she has 40 silver and 70 gold coins.", "70"),
    ("gpt4o", "gold", "So there are 70 gold coins and 40 silver coins.", "70"),
    ("small", "baker", "He earns 36 from the 12 cakes.", "36"),
    ("tiny", "baker", "12 cakes times 3 is what he sells. He earns 36 from the 3 dollars each.", "36"),
    # ... unchanged: one number, an explicit answer, two numbers with the asked noun, a question back.
    ("llama3", "gold", "Gretchen has 70 gold coins.", "70"),
    ("gpt4", "gold", "Gretchen has 40 silver coins and 70 gold coins, so the answer is 70.", "70"),
    ("small", "gold", "Therefore, Gretchen has 40 gold coins and 70 gold coins.", "40"),
    ("claude", "gold", "The problem doesn't say how many coins are silver: could you tell me? Then there would be "
     "70 gold coins.", None),
    ("phi", "baker", "He earns 36 dollars from 12 cakes at 3 dollars each: 12 × 3 = 36.", "36"),
    # ... and an output whose every number restates the question's data computed no answer.
    ("small", "gold", "Gretchen has 110 coins, and 30 more of them are gold than silver.", None),
    ("tiny", "baker", "The baker bakes 12 cakes and sells each for 3 dollars.", None),
    ("small", "baker", "He bakes 12 cakes and gets 36 for them.", "36"),
    # A number the question also gives may be the answer: only the question's number with the question's noun
    # after it restates the data ("the 12 cakes"); an echo of the question holds nothing else.
    ("small", "arith", "-1 + 2 is 1, times 3 is 3.", "3"),
    ("tiny", "arith", "((-1 + 2) * 3)", None),
    # An output cut off after it concluded, in a digression with no number, keeps its conclusion; cut in the
    # working, in the conclusion itself, or going on about what the question asks, it has none.
    ("small", "profit-cut", "The new value is 80000 * 2.5 = 200000. Profit = 200000 - 130000 = 70000.\n\nSo, the "
     "profit Josh made is $70,000.\n\nThis reminds me of the housing market in the nineties, when many people "
     "flipped", "70000"),
    ("tiny", "profit-cut", "So the profit is 70000.\n\nFlipping houses is a popular hobby on television, and many "
     "shows follow", "70000"),
    ("small", "profit-cut", "So the profit is 70000. Now we subtract the repair costs from the profit to", None),
    ("small", "profit-cut", "The value goes up by 150%, so the new value is 200000. Then we subtract 130000 to",
     None),
    ("small", "profit-cut", "Total cost = 80000 + 50000 = 130000. So the profit made by Josh is 70000 -", None),
    ("tiny", "profit-cut", "So the value of the house is 200000. It was a good investment because", None),
    ("small", "profit-cut", "So, the profit is 70000 or 20000. I think the first one is right because", None),
    # An option's value in digits for an option in words, and number words for an option in digits, where exactly
    # one option matches; a loop that repeats one sentence answering the question states that answer.
    ("small", "grey", "The number of grey objects on the floor is 11.\n" + "".join(
        f"{letter}: The number of grey objects on the floor is 11.\n" for letter in "BCDEF"), "C"),
    ("gemma", "grey", "There are 11 grey objects left on the floor.", "C"),
    ("llama3", "grey-digits", "So there are eleven grey objects on the floor.", "C"),
    ("tiny", "grey-digits", "Twelve.", "D"),
    # ... and none where the loop repeats no answer or another thing, the text before it reads another, or the
    # words name two options, negate, ask, or stand for a thing rather than count.
    ("small", "grey", "Step 1: count the grey objects on the floor.\n" * 5, None),
    ("small", "grey", "The number of grey objects on the floor is 11 or 12.\n" * 4, None),
    ("small", "grey", "The number of red objects is 11.\n" * 4, None),
    ("small", "grey", "There are nine grey objects.\n" + "The number of grey objects on the floor is 11.\n" * 4,
     None),
    ("tiny", "grey-digits", "There are ten or eleven grey objects.", None),
    ("tiny", "grey-digits", "There are nine grey toys and eleven grey books.", None),
    ("small", "grey-digits", "It is not eleven.", None),
    ("small", "grey-digits", "Are there eleven grey objects?", None),
    ("tiny", "grey-digits", "No one knows how many there are.", None),
]
