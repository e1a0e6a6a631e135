"""docs/architecture.md's module map names every module of the package and the commands."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Folders the map summarises in a line instead of naming each module.
SUMMARISED = ('clip', 'datasets', 'evaluation', 'engine', 'class_names')


def test_module_map_names_every_module():
    text = (REPO / 'docs' / 'architecture.md').read_text(encoding='utf-8')
    missing = []
    for package in (REPO / 'mmseg_clipseg', REPO / 'mmseg_clipseg_cli'):
        for path in sorted(package.rglob('*.py')):
            relative = path.relative_to(package)
            if path.name == '__init__.py' or relative.parts[0] in SUMMARISED:
                continue
            if path.name not in text and path.stem not in text:
                missing.append(relative.as_posix())
    assert missing == [], f'modules missing from docs/architecture.md: {missing}'
    for folder in SUMMARISED:
        assert f'{folder}/' in text
