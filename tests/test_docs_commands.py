"""The commands and Python blocks of README.md and docs/*.md, run exactly as written, so that
the documentation cannot drift from the code.

Fenced blocks tagged ``bash``, ``shell`` or ``sh`` hold commands (one per line, ``\\`` joins
lines, ``#`` starts a comment); blocks tagged ``python`` are run as a whole; untagged blocks
are output or folder trees and are not run. Any other tag is an error, so that no block is
skipped unnoticed.

Every command runs in a scratch folder that holds the repository's files (linked), as a user
types it after the README's install steps: ``.venv`` there is the environment of this test
session, which is not on ``PATH`` until a ``source .venv/bin/activate`` of the docs has run
(every later command runs after it), so a command that needs an activation the docs do not
give fails here as it would for a reader. A command that cannot run
offline (real CLIP weights, benchmark datasets, network, GPUs) is skipped by one of the rules
in ``SKIPPED``, with its reason shown by ``pytest -rs``; a rule that no longer matches any
command is an error too. The runnable snippets run once, in document order (later ones use
what earlier ones wrote, as a reader's would), and each is reported as its own test.
"""
import contextlib
import io
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
from PIL import Image

from mmseg_clipseg.apis.cli import check_model_settings

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
SHELL_TAGS = ('bash', 'shell', 'sh')
OUTPUT_TAG = ''
FENCE = re.compile(r'^(\s*)```(\S*)\s*$')
# Not linked into the scratch folder: outputs a run would write into the checkout, and the
# checkout's environment (.venv is this session's environment there).
NOT_LINKED = {'.git', '.venv', 'data', 'work_dirs'}
# Commands that change the shell for the commands after them.
ACTIVATION = re.compile(r'^source \S+/activate$')

# (pattern searched in a command, why it is not run here); the first match counts.
SKIPPED: List[Tuple[str, str]] = [
    (r'^make (test|demo)$', 'make test runs the whole suite, this test included; make demo '
     'evaluates 200 scenes in four modes (minutes)'),
    (r'^make app$', 'serves the web page until it is stopped; tests/test_web_app.py drives '
     'it in headless Chromium'),
    (r'^python3 -m venv |^\.venv/bin/pip install ', 'installs packages from the network; '
     'this test runs inside the installed environment'),
    (r'-m pytest', 'the test suite itself (-m cuda: on a GPU)'),
    (r'^python tools/benchmark\.py ', 'times CLIP ViT-B/16 (448x896 inputs, 5 repeats; or '
     '5920 prompts): minutes of CPU'),
    (r'configs/(?!clipseg_tiny_synthetic\.py)\S+\.py', 'needs real CLIP weights (a download) '
     'and a benchmark dataset'),
    (r'\bCONFIG\b', 'CONFIG stands for a config of the reader\'s choice'),
    (r'^python tools/results_table\.py work_dirs/', 'collects finished benchmark runs'),
    (r'^(tar|unzip|mkdir) ', 'unpacks a downloaded dataset release'),
    (r'tools/dataset_converters/', 'converts a downloaded dataset release '
     '(tests/test_converters.py runs every converter on a synthetic copy)'),
    (r'^torchrun ', 'several processes with the default model, CLIP ViT-B/16 (a download)'),
    (r'^python tools/(demo|infer)\.py (?!.*--model tiny-synthetic)', 'the default model, '
     'CLIP ViT-B/16, needs its weights (a download)'),
]


@dataclass
class Snippet:
    doc: str
    line: int
    kind: str  # 'shell' (one command) or 'python' (one block)
    text: str

    @property
    def name(self) -> str:
        return f'{self.doc}:{self.line}'


def _strip_comment(line: str) -> str:
    """A shell line without its ``#`` comment (a ``#`` outside quotes, after a space)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def _commands(doc: str, first_line: int, lines: List[str]) -> List[Snippet]:
    commands, pending, start = [], '', first_line
    for number, line in enumerate(lines, first_line):
        text = _strip_comment(line)
        if not pending:
            start = number
        if text.endswith('\\'):
            pending += text[:-1].rstrip() + ' '
            continue
        command = (pending + text.strip()).strip()
        pending = ''
        if command:
            commands.append(Snippet(doc, start, 'shell', command))
    return commands


def doc_snippets() -> List[Snippet]:
    snippets: List[Snippet] = []
    for path in DOCS:
        doc = str(path.relative_to(REPO))
        lines = path.read_text(encoding='utf-8').splitlines()
        index = 0
        while index < len(lines):
            match = FENCE.match(lines[index])
            if not match:
                index += 1
                continue
            indent, tag = match.groups()
            end = index + 1
            while not lines[end].strip().startswith('```'):
                end += 1
            body = [line[len(indent):] for line in lines[index + 1:end]]
            if tag in SHELL_TAGS:
                snippets += _commands(doc, index + 2, body)
            elif tag == 'python':
                snippets.append(Snippet(doc, index + 2, 'python', '\n'.join(body)))
            elif tag != OUTPUT_TAG:
                raise ValueError(f'{doc}, line {index + 1}: a ```{tag} block; tag commands '
                                 f'{SHELL_TAGS} or python, output blocks nothing')
            index = end + 1
    return snippets


SNIPPETS = doc_snippets()


def skip_reason(snippet: Snippet) -> Optional[str]:
    for pattern, reason in SKIPPED:
        if re.search(pattern, snippet.text):
            return reason
    return None


def _workspace(root: Path) -> Path:
    """A scratch folder with the repository's files linked, ``.venv`` as this session's
    environment, and the input files that the docs assume a reader has (``scene.png``: an
    image of their own)."""
    for entry in REPO.iterdir():
        if entry.name not in NOT_LINKED:
            (root / entry.name).symlink_to(entry)
    activate = Path(sys.prefix) / 'bin' / 'activate'
    if activate.is_file():  # a virtual environment, as `make env` makes
        (root / '.venv').symlink_to(sys.prefix)
    else:  # another kind of environment: an activation that puts its interpreter first
        (root / '.venv' / 'bin').mkdir(parents=True)
        (root / '.venv' / 'bin' / 'activate').write_text(
            f'export PATH="{os.path.dirname(sys.executable)}:$PATH"\n')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / 'scene.png')
    return root


def _run_python(snippet: Snippet, folder: Path) -> Tuple[bool, str]:
    """Run a Python block in this process from ``folder``; a block that defines a ``model``
    dict (a config snippet) is also checked against the registered model components."""
    namespace: Dict[str, object] = {}
    output = io.StringIO()
    previous = os.getcwd()
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(output):
            exec(compile(snippet.text, snippet.name, 'exec'), namespace)
        if isinstance(namespace.get('model'), dict):
            check_model_settings(namespace['model'])
    except Exception:  # reported by the snippet's own test
        return False, output.getvalue() + traceback.format_exc()
    finally:
        os.chdir(previous)
    return True, output.getvalue()


@pytest.fixture(scope='module')
def doc_runs(tmp_path_factory, env) -> Dict[str, Tuple[bool, str]]:
    """Every runnable snippet, run once in document order: name -> (succeeded, output)."""
    folder = _workspace(tmp_path_factory.mktemp('reader'))
    # The shell of a reader who has not activated the environment yet.
    environment_bin = {os.path.dirname(sys.executable), os.path.join(sys.prefix, 'bin')}
    path = [entry for entry in env['PATH'].split(os.pathsep) if entry not in environment_bin]
    shell_env = dict(env, PATH=os.pathsep.join(path))
    shell_env.pop('VIRTUAL_ENV', None)
    activations: List[str] = []
    runs = {}
    for snippet in SNIPPETS:
        if skip_reason(snippet):
            continue
        if snippet.kind == 'python':
            runs[snippet.name] = _run_python(snippet, folder)
            continue
        script = ' && '.join([*activations, snippet.text])
        result = subprocess.run(['bash', '-c', script], cwd=folder, env=shell_env,
                                capture_output=True, text=True, timeout=600)
        if ACTIVATION.match(snippet.text) and result.returncode == 0:
            activations.append(snippet.text)
        runs[snippet.name] = (result.returncode == 0,
                              result.stdout[-3000:] + result.stderr[-3000:])
    return runs


@pytest.mark.parametrize('snippet', SNIPPETS, ids=[snippet.name for snippet in SNIPPETS])
def test_doc_snippet_runs_as_written(snippet, doc_runs):
    reason = skip_reason(snippet)
    if reason:
        pytest.skip(f'{snippet.text[:60]}: {reason}')
    succeeded, output = doc_runs[snippet.name]
    assert succeeded, f'{snippet.name}: {snippet.text}\n{output}'


def test_the_docs_have_runnable_snippets_and_every_skip_rule_is_used():
    runnable = [snippet for snippet in SNIPPETS if not skip_reason(snippet)]
    assert {snippet.kind for snippet in runnable} == {'shell', 'python'}
    for pattern, reason in SKIPPED:
        assert any(re.search(pattern, snippet.text) for snippet in SNIPPETS), \
            f'no command in the docs matches the skip rule {pattern!r} ({reason}): remove it'
