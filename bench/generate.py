"""Deterministic synthetic content for the benchmark.

In:  a folder, a number of notes, a number of topics.
Out: `content/*.md` (one topic per file: Chinese and English prose, lists, inline and display
     math, a fenced code block in every tenth note, a figure in a few notes) and
     `figures/bench_*.py` (small matplotlib figures), the same bytes for the same arguments.

The notes are built from fixed phrase lists indexed by a seeded `random.Random`, so two runs on
any machine write identical files; `edit_note` and `edit_figure` make the one-line changes the
benchmark times.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

FIGURES_PER_SCRIPT = 2
SCRIPTS = 2  # 4 figures in all: "a few figures"

ZH = [
    "卷积层通过局部连接和权值共享大幅减少参数量",
    "批归一化让每层输入的分布保持稳定，从而允许更大的学习率",
    "残差连接让梯度可以绕过非线性层直接回传",
    "过拟合时训练误差很低而验证误差持续上升",
    "学习率过大时损失会震荡甚至发散",
    "数据增强相当于在输入空间里加入先验不变性",
    "注意力机制按相关性对所有位置的特征加权求和",
    "深度可分离卷积把空间卷积和通道混合拆成两步",
]
EN = [
    "The gradient of the loss flows back through every layer of the network.",
    "Weight decay shrinks each parameter a little at every update step.",
    "A larger batch gives a less noisy estimate of the full gradient.",
    "Dropout trains an implicit ensemble of thinned sub-networks.",
    "Pooling trades spatial resolution for a larger receptive field.",
    "Label smoothing keeps the logits from growing without bound.",
]
INLINE = [
    r"$y = \sigma(Wx + b)$",
    r"$\mathrm{Var}(W) = \frac{2}{n_{\text{in}}}$",
    r"$k_{\text{eff}} = k + (k-1)(d-1)$",
    r"$\|w\|_2^2 = \sum_i w_i^2$",
    r"$p_i = e^{z_i} / \sum_j e^{z_j}$",
]
DISPLAY = [
    r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial y} \cdot \frac{\partial y}{\partial w}",
    r"o = \left\lfloor \frac{i + 2p - k}{s} \right\rfloor + 1",
    r"\hat{x} = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}",
    r"\theta_{t+1} = \theta_t - \eta \nabla_\theta L(\theta_t)",
]
CODE = [
    ("python", "import torch\n\nx = torch.randn(8, 3, 32, 32)\nconv = torch.nn.Conv2d(3, 16, 3, padding=1)\nprint(conv(x).shape)  # (8, 16, 32, 32)"),
    ("python", "def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()"),
    ("python", "for epoch in range(10):\n    for x, y in loader:\n        loss = criterion(model(x), y)\n        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()"),
]
QUESTIONS = ["为什么", "什么是", "如何理解", "怎样计算", "有什么作用："]
TERMS = ["批归一化", "残差连接", "空洞卷积", "权重衰减", "dropout", "注意力", "感受野", "学习率预热", "label smoothing", "梯度裁剪"]


def figure_name(index: int) -> str:
    return f"bench-fig-{index}"


def generate(root: Path, notes: int, topics: int = 10, seed: int = 0) -> Path:
    """Write a project with `notes` notes spread evenly over `topics` files under `root`."""
    rng = random.Random(seed)
    content = root / "content"
    content.mkdir(parents=True, exist_ok=True)
    figures_count = SCRIPTS * FIGURES_PER_SCRIPT
    written = 0  # notes so far: every tenth note of the whole set has a code block
    for t in range(topics):
        count = notes // topics + (1 if t < notes % topics else 0)
        parts = [f"---\ndeck: 基准测试::主题 {t:02d}\nid: topic-{t:02d}\ntags: [bench, topic::{t:02d}]\n---\n"]
        for i in range(count):
            figure = t if t < figures_count and i == 0 else None
            parts.append(_note(rng, t, i, figure, code=written % 10 == 3))
            written += 1
        (content / f"topic-{t:02d}.md").write_text("\n".join(parts), encoding="utf-8")
    _write_figures(root / "figures")
    return root


def _note(rng: random.Random, topic: int, index: int, figure: int | None, code: bool) -> str:
    term = rng.choice(TERMS)
    lines = [f"## {rng.choice(QUESTIONS)}{term}？ (T{topic} Q{index}) {{#t{topic}-n{index}}}"]
    if index % 7 == 0:
        lines.append(f"tags: bench::group{index % 5}")
    lines += ["", "**要点**", ""]
    for _ in range(rng.randint(2, 4)):
        lines.append(f"- {rng.choice(ZH)}，例如 {rng.choice(INLINE)}。")
    lines += ["", f"{rng.choice(EN)} {rng.choice(EN)} In symbols, {rng.choice(INLINE)} holds.", ""]
    lines += ["$$", rng.choice(DISPLAY), "$$", ""]
    lines.append(f"1. {rng.choice(ZH)}\n2. {rng.choice(EN)}")
    if code:
        lang, code = rng.choice(CODE)
        lines += ["", f"```{lang}", code, "```"]
    if figure is not None:
        lines += ["", f"![合成曲线 {figure}](figure:{figure_name(figure)})"]
    return "\n".join(lines) + "\n"


def _write_figures(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(SCRIPTS):
        body = ['"""Synthetic benchmark figures."""', "import numpy as np", "", "from deckgen.figure_api import figure", ""]
        for f in range(FIGURES_PER_SCRIPT):
            index = s * FIGURES_PER_SCRIPT + f
            body += [
                "",
                f'@figure("{figure_name(index)}", size=(4.0, 2.6))',
                f"def fig_{index}(fig, pal):",
                "    ax = fig.subplots()",
                "    x = np.linspace(-4, 4, 200)",
                f"    ax.plot(x, np.tanh(x * {index + 1}), color=pal.c[0])  # edit: 0",
                "    ax.grid(True, color=pal.grid)",
                "",
            ]
        (folder / f"bench_{s}.py").write_text("\n".join(body), encoding="utf-8")


def edit_note(root: Path, run: int) -> Path:
    """Reword the answer of one note (the middle note of the first topic file); each `run` gives
    a new text. Works on any content folder, so the flagship content is edited the same way."""
    path = sorted((root / "content").glob("*.md"))[0]
    notes = path.read_text(encoding="utf-8").split("\n## ")
    middle = len(notes) // 2
    note = re.sub(r"\n基准测试编辑 \d+。\n", "", notes[middle])  # undo the previous edit
    notes[middle] = note.rstrip("\n") + f"\n\n基准测试编辑 {run}。\n" + "\n" * (len(note) - len(note.rstrip("\n")) - 1)
    path.write_text("\n## ".join(notes), encoding="utf-8")
    return path


def edit_figure(root: Path, run: int) -> Path:
    """Change what the first figure draws; the script's other figure is re-rendered with it."""
    path = root / "figures" / "bench_0.py"
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if "# edit:" in line)
    lines[at] = f"    ax.plot(x, np.tanh(x * 1) + {run} * 0.01, color=pal.c[0])  # edit: {run}"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
