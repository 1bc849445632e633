"""Prompt text: light variation of real human prompts, and the templates of each behaviour.

The organic and instruction prompts are real (see ``data/ATTRIBUTION.md``); the openers, closers,
follow-ups and wrapping templates below are written for the simulator. The attack templates use
the chain-of-thought elicitation phrases that distillation campaigns are reported to use; several
benign behaviours (tutoring, evaluation, reasoning power users) use similar phrases on purpose.
"""

from __future__ import annotations

import hashlib
import random

OPENERS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "Hi! ",
    "Hey, ",
    "Quick question: ",
    "Can you help me with this? ",
    "Please help: ",
    "hello, ",
    "I'm stuck on this. ",
    "Hi there. ",
    "Help me with the following. ",
)
CLOSERS = (
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    " Thanks!",
    " thanks",
    " Please be concise.",
    " Keep it short.",
    " Thank you.",
    " Answer in English please.",
    " Explain like I'm new to this.",
    " thx",
    " Give me a few options.",
)
CONTEXTS = (
    "I'm using Python 3.11.",
    "This is for a school assignment.",
    "Our team uses PostgreSQL.",
    "I'm on Windows 11.",
    "It's for a presentation tomorrow.",
    "I'm a beginner.",
    "We use TypeScript.",
    "My boss asked me for this.",
    "Context: small e-commerce shop.",
    "I work in healthcare.",
    "Target audience: teenagers.",
    "Please use British spelling.",
    "I only have 10 minutes.",
    "We deploy on Kubernetes.",
    "This is for my blog.",
    "I'm preparing for an interview.",
    "Use simple words.",
    "It's for a non-profit.",
    "I'm on a Mac.",
    "Our stack is Django + React.",
)
"""Situations people add to a prompt; with the openers and closers they make reuse of the same
real prompt by different accounts look like different people asking a similar thing."""

FOLLOW_UPS = (
    "Can you make it shorter?",
    "Thanks. Can you explain the second part in more detail?",
    "That didn't work, I get an error. What should I check?",
    "Can you give me a concrete example?",
    "What about edge cases?",
    "Rewrite it in a more formal tone.",
    "Now translate that into Spanish.",
    "ok and how would I test this?",
    "Why?",
    "Can you add comments to the code?",
    "Make it more concise and use bullet points.",
    "Great, now do the same for the other one.",
    "Hmm, I don't think that's right. Can you double check?",
    "What are the downsides of this approach?",
    "Could you put that in a table?",
    "Thanks! One more thing: how do I deploy it?",
    "Can you simplify it for a 10 year old?",
    "Give me three alternatives.",
    "Continue.",
    "That's close. Change the tone to be friendlier.",
)
"""Second and later user turns of a conversation (the traces give no text for them)."""

COT_TEMPLATES = (
    "{p}\n\nThink step by step and show every step of your reasoning before giving the final answer.",
    "Solve the following task. Explain your reasoning in detail, step by step, then state the final "
    "answer.\n\nTask: {p}",
    "{p}\n\nLet's think step by step. Write out your full chain of thought.",
    "You will be given an instruction. First reason through it carefully and exhaustively, then give a "
    "complete, high-quality response.\n\n### Instruction:\n{p}\n\n### Response:",
)
"""Wrappers of a bulk distillation campaign: elicit long, reasoned answers."""

HYDRA_TEMPLATES = (
    "### Instruction:\n{p}\n\n### Response (explain your reasoning step by step):",
    "{p}\n\nPlease explain your reasoning step by step.",
    "Answer thoroughly and show your work.\n\n{p}",
)
"""Shared by every account of a hydra campaign, with small per-account edits."""

REASONING_TEMPLATES = (
    "{p}\n\nThink carefully and consider every possibility before you answer.",
    "{p}\n\nPlease reason thoroughly. Verify your answer at the end.",
    "Problem: {p}\nShow all of your thinking.",
)

LOGIT_TEMPLATES = (
    "Continue the text: {p}",
    "{p}",
    "Next word: {p}",
)

EVAL_TEMPLATES = (
    "Question: {p}\nAnswer:",
    "Question: {p}\nLet's think step by step.",
    "{p}\nGive only the final answer.",
)
"""An evaluation harness: benchmark questions, often with a fixed few-shot prefix."""

PRODUCT_TEMPLATES = (
    "Rewrite the following text so that it is clear and concise:\n\n{p}",
    "Summarize the following in three bullet points:\n\n{p}",
    "Extract the key entities and action items from this message:\n\n{p}",
    "Draft a polite reply to this customer message:\n\n{p}",
)

CLASSIFIER_TEMPLATES = (
    "Classify the topic of the following request. Answer with a single label.\n\n{p}",
    "Is the following request safe to answer? Reply yes or no.\n\n{p}",
)

TUTOR_TEMPLATES = (
    "I don't understand this homework problem. Can you explain step by step how to solve it? {p}",
    "Explain how to solve this, step by step, like a tutor would: {p}",
    "{p} Please walk me through it step by step, I want to learn the method.",
)

AGENT_OBSERVATIONS = (
    'Tool result: {"status": "ok", "rows": 12}. Continue with the next step.',
    "Observation: the file was written successfully. What is the next action?",
    "Tool result: HTTP 404 from the search endpoint. Try another approach.",
    "Observation: tests passed (14/14). Decide whether the task is complete.",
    "Tool result: [] (no matches). Refine the query.",
    "Observation: command exited with code 1: ModuleNotFoundError. Fix it.",
)

POWER_USER_SUFFIXES = (
    " Think it through step by step.",
    " Reason carefully before answering.",
    " Please show your reasoning.",
    "",
    "",
)


def vary(rng: random.Random, text: str) -> str:
    """A person's light edits of a prompt: greeting, sign-off, context, a shortened ask."""
    opener = rng.choice(OPENERS)
    closer = rng.choice(CLOSERS)
    if opener and rng.random() < 0.5 and text[:1].isupper():
        text = text[:1].lower() + text[1:]
    roll = rng.random()
    if roll < 0.2:
        sentences = text.split(". ")
        if len(sentences) >= 3:
            text = ". ".join(sentences[: rng.randint(1, len(sentences) - 1)]) + "."
    elif roll < 0.45:
        closer = f" {rng.choice(CONTEXTS)}{closer}"
    return f"{opener}{text}{closer}"


def wrap(template: str, prompt: str) -> str:
    """Put a prompt into a template (``str.format`` would choke on braces in code prompts)."""
    return template.replace("{p}", prompt)


def hash_text(text: str) -> str:
    """What a gateway would log for a system prompt: a short stable digest, never the text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def text_tokens(text: str) -> int:
    """Rough token count (4 characters per token), to keep prompt_tokens consistent with text."""
    return len(text) // 4 + 1
