import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# A regular (not editable) install carries the configs inside the package, as mmseg's
# `.mim` folder does, so that `mmseg_clipseg.apis.init_segmentor('vitb')` finds them.
PACKAGED_CONFIGS = HERE / 'mmseg_clipseg' / '.mim' / 'configs'


def package_configs() -> None:
    if PACKAGED_CONFIGS.exists():
        shutil.rmtree(PACKAGED_CONFIGS)
    if {'bdist_wheel', 'install', 'sdist', 'build'} & set(sys.argv):
        shutil.copytree(HERE / 'configs', PACKAGED_CONFIGS)


def requirements() -> list:
    lines = (HERE / 'requirements.txt').read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


package_configs()
setup(
    name='mmseg-clipseg',
    version='0.1.0',
    description='Training-free open-vocabulary semantic segmentation with CLIP (CRA + DSI) '
    'as an MMSegmentation plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['mmseg_clipseg', 'mmseg_clipseg.*', 'mmseg_clipseg_cli']),
    package_data={
        'mmseg_clipseg': [
            'class_names/*.txt', 'class_names/*/*/*.txt', 'clip/model_configs/*.json',
            'clip/weights/*.gz', 'clip/weights/*.md', 'clip/weights/*.jsonl',
            '.mim/configs/*.py', '.mim/configs/*/*.py', '.mim/configs/*/*/*.py'
        ]
    },
    install_requires=requirements(),
    extras_require={
        # The web page of tools/app.py; selenium drives Chromium in its browser test.
        'app': ['gradio>=6,<7'],
        'tests': ['pytest', 'selenium>=4.11'],
    },
    entry_points={'console_scripts': [
        'mmseg-clipseg-demo=mmseg_clipseg_cli.demo:run',
        'mmseg-clipseg-infer=mmseg_clipseg_cli.infer:run',
        'mmseg-clipseg-app=mmseg_clipseg_cli.app:run',
    ]},
    license='Apache-2.0',
)
