"""Realistic GSM8K- and MATH-style completions with verdicts set by construction (the grader's test set and
benchmark mix).

Each case is a reasoning text (300-2,000 characters) ending in one final-answer format that models really write,
with the reference answer of the problem. The expected verdict is known by construction: 1 when the final answer
is the reference written in another notation, 0 when it is another value, a hedge between two values, or the
right value followed by a different final one. ``python -m simalloc_benchmarks.grading_cases PATH`` writes them as
JSONL (seeded: the file is identical each time; the tests read ``tests/data/grading_cases.jsonl``).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

# (question, reference, unit, steps): GSM8K-style, integer or money answers
GSM = [
    (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
        72,
        "clips",
        ["In April she sold 48 clips.", "In May she sold 48 / 2 = 24 clips.", "Altogether 48 + 24 = 72 clips."],
    ),
    (
        "Weng earns $12 an hour for babysitting. Yesterday she did 50 minutes of babysitting.",
        10,
        "dollars",
        ["Per minute she earns 12 / 60 = 0.2 dollars.", "For 50 minutes she earns 0.2 x 50 = 10 dollars."],
    ),
    (
        "Betty needs $100 for a wallet and has half of it; her parents give $15 and her grandparents twice that.",
        5,
        "dollars",
        ["She has 100 / 2 = 50 dollars.", "Grandparents give 15 x 2 = 30.", "She needs 100 - 50 - 15 - 30 = 5."],
    ),
    (
        "Julie reads 12 pages yesterday and twice as many today of a 120-page book; she reads half the rest tomorrow.",
        42,
        "pages",
        ["Today she reads 24 pages.", "Read so far: 36 pages.", "Left: 84 pages; half is 42 pages."],
    ),
    (
        "James writes a 3-page letter to 2 friends twice a week.",
        624,
        "pages",
        ["Each time he writes 3 x 2 = 6 pages.", "Twice a week gives 12 pages.", "A year has 52 weeks: 12 x 52 = 624."],
    ),
    (
        "Mark has a garden with 10 yellow flowers, 80% more purple ones, and green ones 25% as many as the others.",
        35,
        "flowers",
        ["Purple: 10 x 1.8 = 18.", "Yellow and purple: 28.", "Green: 0.25 x 28 = 7; total 35."],
    ),
    (
        "Albert buys 2 large pizzas with 16 slices and 2 small ones with 8 slices.",
        48,
        "slices",
        ["Large: 2 x 16 = 32 slices.", "Small: 2 x 8 = 16 slices.", "Total: 48 slices."],
    ),
    (
        "Ken's care package weighs 2 pounds, triples with brownies, grows by 2 pounds of jelly beans, then doubles.",
        16,
        "pounds",
        ["After brownies: 6 pounds.", "After jelly beans: 8 pounds.", "After gummy worms: 16 pounds."],
    ),
    (
        "Alexis had a $200 budget and spent $30, $46, $38, $11 and $18 and has $16 left; how much were the shoes?",
        41,
        "dollars",
        [
            "Spent without shoes: 30 + 46 + 38 + 11 + 18 = 143.",
            "Total spent: 200 - 16 = 184.",
            "Shoes: 184 - 143 = 41.",
        ],
    ),
    (
        "Tina makes $18.00 an hour and 1.5 times that for overtime beyond 8 hours; she works 10 hours a day "
        "for 5 days.",
        990,
        "dollars",
        ["Regular pay per day: 8 x 18 = 144.", "Overtime: 2 x 27 = 54.", "Per day 198; 5 days 990."],
    ),
    (
        "A deep-sea monster eats 847 people over three hundred years, each ship twice as large as the last.",
        121,
        "people",
        ["Let the first ship hold S people.", "S + 2S + 4S = 847.", "7S = 847 so S = 121."],
    ),
    (
        "Tobias saves for $95 shoes with a $5 allowance for 3 months, mowing at $15 and shoveling at $7; he mows "
        "4 lawns "
        "and has $15 change.",
        5,
        "driveways",
        ["He had 95 + 15 = 110.", "Allowance 15, mowing 60.", "Shoveling 35 / 7 = 5."],
    ),
    (
        "Randy has 60 mango trees and 5 less than half as many coconut trees.",
        85,
        "trees",
        ["Half of 60 is 30.", "Coconut trees: 30 - 5 = 25.", "Total: 60 + 25 = 85."],
    ),
    (
        "Jasper buys 2 pounds of cheddar for $10, a pound of cream cheese for half that and cold cuts for twice.",
        35,
        "dollars",
        ["Cream cheese costs 10 / 2 = 5.", "Cold cuts cost 10 x 2 = 20.", "Total 10 + 5 + 20 = 35."],
    ),
    ("Joy reads 8 pages in 20 minutes.", 5, "hours", ["In one hour she reads 24 pages.", "120 pages take 5 hours."]),
    (
        "James creates a media empire: a movie costs $2000 to make, $1 per DVD, sells at 2.5 times, 500 a day.",
        448000,
        "dollars",
        ["Profit per DVD: 2.5 - 1 = 1.5.", "Per day: 750; per week: 3750.", "20 weeks: 75,000 ... total 448,000."],
    ),
    (
        "The price of a house was $350,000 and rose by 8%.",
        378000,
        "dollars",
        ["The increase is 0.08 x 350,000 = 28,000.", "New price: 350,000 + 28,000 = 378,000."],
    ),
    (
        "A factory makes 1,250 widgets a day for 12 days.",
        15000,
        "widgets",
        ["Per day: 1,250.", "12 days: 1,250 x 12 = 15,000."],
    ),
    ("Sam splits $7.50 equally among 3 friends.", 2.5, "dollars", ["7.50 / 3 = 2.50 each."]),
    ("A recipe needs 3/4 cup of sugar per batch; Lee makes 6 batches.", 4.5, "cups", ["6 x 3/4 = 18/4 = 4.5 cups."]),
    ("A class of 32 students has 25% absent.", 24, "students", ["Absent: 0.25 x 32 = 8.", "Present: 32 - 8 = 24."]),
    ("Ava runs 3.2 km every day for a week.", 22.4, "km", ["7 x 3.2 = 22.4 km."]),
    ("A train travels 540 km in 6 hours.", 90, "km/h", ["Speed = 540 / 6 = 90 km/h."]),
    ("There are 1000000 grains in a jar.", 1000000, "grains", ["The count is given directly: 1,000,000."]),
]

# (problem, reference, correct spellings, wrong spellings): MATH-style
MATH = [
    (
        "Compute $\\cos 60^\\circ$.",
        "\\frac{1}{2}",
        ["\\frac12", "0.5", "\\dfrac{1}{2}", "1/2", "\\tfrac12"],
        ["\\frac{1}{3}", "\\frac{\\sqrt{3}}{2}"],
    ),
    ("Simplify $\\sqrt{12}/2$.", "\\sqrt{3}", ["\\sqrt3", "\\sqrt{3}", "3^{1/2}"], ["\\sqrt{2}", "3"]),
    (
        "Evaluate $\\sin 60^\\circ$.",
        "\\frac{\\sqrt{3}}{2}",
        ["\\dfrac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", "\\frac{1}{2}\\sqrt{3}"],
        ["\\frac{\\sqrt{2}}{2}"],
    ),
    ("What is $1/3$ as a continued fraction?", "\\frac{1}{3}", ["\\cfrac{1}{3}", "\\frac13"], ["0.333"]),
    ("Solve $2x - 6 = 0$.", "3", ["x = 3", "x=3"], ["x = -3", "6"]),
    ("Find all roots of $x^2 - 3x + 2$.", "1, 2", ["2, 1", "1, 2", "1,2"], ["1", "1, 3"]),
    (
        "Find the ordered pair $(a, b)$ with $a + b = 3$ and $a - b = -1$.",
        "(1, 2)",
        ["(1,2)", "\\left(1, 2\\right)"],
        ["(2, 1)"],
    ),
    (
        "Find the measure of an angle of an equilateral triangle... times 1.5.",
        "90",
        ["90^\\circ", "90^{\\circ}", "90"],
        ["60^\\circ"],
    ),
    (
        "A rectangle has area 15 cm^2 and width 3 cm; find its length.",
        "5",
        ["5\\text{ cm}", "5 \\text{ cm}", "5 cm"],
        ["3\\text{ cm}"],
    ),
    ("What percent of 80 is 20?", "25", ["25\\%", "25%", "25 percent"], ["20\\%"]),
    ("Solve $x + 2 \\leq 7$.", "x \\leq 5", ["5 \\geq x", "x \\le 5", "(-\\infty, 5]"], ["x < 5", "x \\geq 5"]),
    ("Find the domain of $\\sqrt{x}/\\sqrt{1-x}$.", "[0, 1)", ["[0,1)", "\\left[0, 1\\right)"], ["[0, 1]", "(0, 1)"]),
    (
        "Compute $\\begin{pmatrix} 1 & 0 \\\\ 0 & 2 \\end{pmatrix}^2$.",
        "\\begin{pmatrix} 1 & 0 \\\\ 0 & 4 \\end{pmatrix}",
        ["\\begin{bmatrix} 1 & 0 \\\\ 0 & 4 \\end{bmatrix}", "\\begin{pmatrix}1&0\\\\0&4\\end{pmatrix}"],
        ["\\begin{pmatrix} 1 & 0 \\\\ 0 & 2 \\end{pmatrix}"],
    ),
    ("Differentiate $-\\cos(x)$.", "\\sin(x)", ["\\sin x", "\\sin{x}"], ["\\cos x", "-\\sin x"]),
    ("Expand $(x+1)^2$.", "x^2 + 2x + 1", ["(x+1)^2", "x^2+2x+1", "1 + 2x + x^2"], ["x^2 + 1", "x^2 + 2x"]),
    ("Simplify $\\sqrt{x^2}$ for $x > 0$... then square it.", "x^2", ["x^{2}", "x \\cdot x"], ["x", "2x"]),
    (
        "Find $\\frac{1}{2} \\cdot \\frac{1}{1000000}$.",
        "\\frac{1}{2000000}",
        ["\\frac{1}{2000000}", "5 \\times 10^{-7}"],
        ["\\frac{1}{1000000}"],
    ),
    ("Compute $10^6$.", "1000000", ["1{,}000{,}000", "10^6", "1,000,000"], ["1000001", "100000"]),
    ("Find the area of a circle of radius 2.", "4\\pi", ["4 \\pi", "\\pi \\cdot 4", "4\\pi"], ["2\\pi", "4"]),
    (
        "Find the smallest positive angle $\\theta$ with $\\tan\\theta = 1$.",
        "\\frac{\\pi}{4}",
        ["\\pi/4", "\\dfrac{\\pi}{4}"],
        ["\\frac{\\pi}{3}"],
    ),
    (
        "Compute $-\\frac{6}{8}$ in lowest terms.",
        "-\\frac{3}{4}",
        ["-\\frac34", "\\frac{-3}{4}", "-0.75"],
        ["\\frac{3}{4}"],
    ),
    ("Simplify $\\sqrt{200}$.", "10\\sqrt{2}", ["10 \\sqrt{2}", "10\\sqrt2"], ["20\\sqrt{2}", "\\sqrt{20}"]),
    ("How many dollars is 18 dollars?", "18", ["\\$18", "18 dollars", "\\$18.00"], ["\\$19"]),
    ("Compute $14916$.", "14916", ["14{,}916", "14,916", "14\\,916"], ["14,961"]),
]

FILLER = [
    "Let me work through this step by step.",
    "First, I write down what is given.",
    "I will double-check each computation as I go.",
    "Let's verify this makes sense.",
    "This matches the constraints of the problem.",
    "Now I combine the pieces.",
    "Careful with the arithmetic here.",
    "Putting everything together gives the result.",
]


def _reasoning(rng: random.Random, question: str, steps: list[str], length: int) -> str:
    text = question + "\n\n" + "\n".join(steps)
    while len(text) < length:
        text += " " + rng.choice(FILLER)
    return text


def _gsm_value(v) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def gsm_cases(rng: random.Random) -> list[dict]:
    cases = []
    for question, ref, unit, steps in GSM:
        a = _gsm_value(ref)
        commas = f"{ref:,}" if isinstance(ref, int) else a
        money = f"{ref:.2f}" if isinstance(ref, float) else a
        right = [
            f"#### {a}",
            f"**Answer:** {a}",
            f"The final answer is: {a}",
            f"Answer: {a} {unit}",
            f"The final answer is $\\boxed{{{a}}}$.",
            f"So the answer is {commas}.",
            f"**Final Answer:** \\boxed{{\\${money}}}" if unit == "dollars" else f"Answer: {commas} {unit}",
        ]
        wrong_value = _gsm_value(ref + 1)
        wrong = [
            f"#### {wrong_value}",
            f"Answer: {a} or {wrong_value}",
            f"I first thought {a}.\n\n**Answer:** {_gsm_value(ref * 10)}",
        ]
        for fmt in rng.sample(right, 5):
            cases.append(
                {
                    "completion": _reasoning(rng, question, steps, rng.randint(300, 1500)) + "\n\n" + fmt,
                    "reference": a,
                    "expected": 1,
                    "kind": "gsm8k",
                }
            )
        for fmt in wrong[:2] + rng.sample(wrong[2:], 1):
            cases.append(
                {
                    "completion": _reasoning(rng, question, steps, rng.randint(300, 1500)) + "\n\n" + fmt,
                    "reference": a,
                    "expected": 0,
                    "kind": "gsm8k",
                }
            )
    return cases


def math_cases(rng: random.Random) -> list[dict]:
    wrappers = [
        "Therefore, the final answer is $\\boxed{{{x}}}$.",
        "Thus the answer is $\\boxed{{{x}}}$.",
        "**Final Answer** The final answer is ${x}$. I hope it is correct.",
        "Hence $\\boxed{{{x}}}$.",
    ]
    cases = []
    for problem, ref, right, wrong in MATH:
        steps = [f"We start from {problem}", "We simplify the expression carefully.", "Each step keeps equality."]
        for x in right:
            fmt = rng.choice(wrappers).format(x=x)
            cases.append(
                {
                    "completion": _reasoning(rng, problem, steps, rng.randint(300, 2000)) + "\n\n" + fmt,
                    "reference": ref,
                    "expected": 1,
                    "kind": "math",
                }
            )
        for x in wrong:
            fmt = rng.choice(wrappers).format(x=x)
            cases.append(
                {
                    "completion": _reasoning(rng, problem, steps, rng.randint(300, 2000)) + "\n\n" + fmt,
                    "reference": ref,
                    "expected": 0,
                    "kind": "math",
                }
            )
    # several boxes: a multi-part answer, and intermediate boxes followed by the final one
    cases.append(
        {
            "completion": "The roots are $x = \\boxed{2}$ and $x = \\boxed{3}$.",
            "reference": "2, 3",
            "expected": 1,
            "kind": "math",
        }
    )
    cases.append(
        {
            "completion": "First $\\boxed{5}$ is the subtotal. After adding the tax, the total comes to $\\boxed{7}$.",
            "reference": "7",
            "expected": 1,
            "kind": "math",
        }
    )
    cases.append(
        {
            "completion": "Intermediate: $\\boxed{7}$. Then we subtract two and reconsider everything from "
            "the start, which gives $\\boxed{5}$.",
            "reference": "7",
            "expected": 0,
            "kind": "math",
        }
    )
    return cases


def realistic_cases(seed: int = 20261130) -> list[dict]:
    """Every case: {"completion", "reference", "expected", "kind"}; the same list for the same seed."""
    rng = random.Random(seed)
    return gsm_cases(rng) + math_cases(rng)


def main(path: str) -> None:
    cases = realistic_cases()
    with Path(path).open("w") as f:
        for case in cases:
            f.write(json.dumps(case) + "\n")
    print(f"{len(cases)} cases ({sum(c['expected'] for c in cases)} correct) -> {path}")


if __name__ == "__main__":
    main(sys.argv[1])
