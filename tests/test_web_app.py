"""tools/app.py, the web page: its logic against segment() (no browser needed), and the page
in a real browser: headless Chromium (Debian's package, driven by selenium) uploads an image
and types names; the labels behind the overlay it shows must be segment()'s, and a mistake
must show its one-line message, with no request leaving this machine. The browser tests run
alone with `pytest -m browser`; `MMSEG_CLIPSEG_APP_SCREENSHOT=docs/images/app.png` also saves
the README's screenshot."""
import importlib.util
import io
import os
import os.path as osp
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from typing import Optional

import numpy as np
import pytest
from PIL import Image

from mmseg_clipseg.apis import init_segmentor, model_config, segment, web_app
from mmseg_clipseg_cli import app as app_command
from mmseg_clipseg.apis.image_io import read_rgb
from mmseg_clipseg.apis.visualization import render_overlay
from mmseg_clipseg.datasets.palette import palette_for
from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
# Headless, and nothing of Chromium's own that calls home (updates, sync, QUIC probes).
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--window-size=1400,1000',
                  '--disable-dev-shm-usage')  # containers' /dev/shm is often too small
NAMES = 'grass; water; sand; rock; circle; square; triangle'
WAIT_S = 120


def _missing() -> str:
    """What this test needs and does not have here ('' when nothing is missing)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not osp.exists(path)]
    missing += [f'the Python package {module}' for module in ('gradio', 'selenium')
                if importlib.util.find_spec(module) is None]
    return ', '.join(missing)


@pytest.fixture(scope='module')
def browser_available() -> None:
    missing = _missing()
    if missing and os.environ.get('CI'):  # CI installs them (.ci/run, Makefile): a failure
        pytest.fail(f'The browser test needs {missing}; .ci/run and make test install them.')
    if missing:
        pytest.skip(f'needs {missing}: apt-get install chromium chromium-driver and '
                    'pip install -e ".[app,tests]"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# tools/app.py under an audit hook that reports every name lookup and connection to an
# address other than this machine's (Python's socket audit events).
LAUNCH_AUDITED = """
import runpy, sys
LOCAL = ('127.0.0.1', '::1', 'localhost', '0.0.0.0', '')
def report_outside(event, args):
    if event == 'socket.getaddrinfo' or event == 'socket.connect':
        host = args[0] if event == 'socket.getaddrinfo' else args[1]
        host = host[0] if isinstance(host, tuple) else host
        if isinstance(host, bytes):
            host = host.decode()
        if isinstance(host, str) and not host.startswith('/') and host not in LOCAL:
            print(f'OUTSIDE {event} {host}', file=sys.stderr, flush=True)
sys.addaudithook(report_outside)
sys.argv = ['tools/app.py', *sys.argv[1:]]
runpy.run_path('tools/app.py', run_name='__main__')
"""


class App:
    """The served page: its address and the server's log."""

    def __init__(self, url: str, log) -> None:
        self.url = url
        self.log = log


@pytest.fixture(scope='module')
def app(browser_available, env, tmp_path_factory):
    """tools/app.py with its default (tiny, offline) model, served on a free local port."""
    port = _free_port()
    log = tmp_path_factory.mktemp('app') / 'app.log'
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, '-c', LAUNCH_AUDITED, '--port', str(port), '--device', 'cpu'],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert process.poll() is None, f'tools/app.py stopped:\n{log.read_text()}'
            assert time.monotonic() < deadline, f'no page after {WAIT_S} s:\n{log.read_text()}'
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        yield App(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope='module')
def driver(browser_available, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={tmp_path_factory.mktemp("chromium_profile")}')
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    # The system's chromedriver: selenium then never looks for (or downloads) a driver.
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    browser.set_page_load_timeout(WAIT_S)
    yield browser
    browser.quit()


def _wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, WAIT_S).until(condition, message=message)


def _submit(driver, url: str, image_path: str, names: str) -> str:
    """Open the page, upload ``image_path``, type ``names``, press Segment; the status."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    driver.get(url)
    upload = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, '#image input[type=file]'),
                   'the page has no image upload')
    upload.send_keys(image_path)
    # Shown from the server's copy: the upload has finished.
    _wait(driver, lambda d: any((img.get_attribute('src') or '').startswith(url)
                                for img in d.find_elements(By.CSS_SELECTOR, '#image img')),
          'the uploaded image is not shown')
    box = driver.find_element(By.CSS_SELECTOR, '#names textarea')
    box.send_keys(Keys.CONTROL, 'a')
    box.send_keys(Keys.DELETE)
    if names:
        # Set as one value (typing 10,000 names key by key takes minutes), then announced
        # to Gradio as typing would.
        driver.execute_script(
            'arguments[0].value = arguments[1];'
            'arguments[0].dispatchEvent(new Event("input", {bubbles: true}));', box, names)
    driver.find_element(By.CSS_SELECTOR, '#segment').click()
    return _wait(driver, _final_status, 'no result after Segment')


def _final_status(driver) -> Optional[str]:
    """The status line once it gives a result or a mistake (while the page works, the box
    shows Gradio's progress instead), else None."""
    from selenium.webdriver.common.by import By
    text = driver.find_element(By.CSS_SELECTOR, '#status').text.strip()
    return text if re.match(r'Error: |\d+x\d+ image, ', text) else None


def _attribute(driver, selector: str, name: str):
    """``name`` of the first element that ``selector`` finds, or None."""
    from selenium.webdriver.common.by import By
    elements = driver.find_elements(By.CSS_SELECTOR, selector)
    return elements[0].get_attribute(name) if elements else None


def _inner_html(driver, selector: str) -> str:
    """The HTML inside what ``selector`` finds, for a failure's message."""
    from selenium.webdriver.common.by import By
    return '\n'.join(element.get_attribute('innerHTML')
                     for element in driver.find_elements(By.CSS_SELECTOR, selector))


def _fetch_image(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=30) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())))


@pytest.fixture(scope='module')
def scene_path(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('scene') / 'scene.png')
    Image.fromarray(generate_scenes(1, seed=5)[0].image).save(path)
    return path


@pytest.mark.browser
def test_page_shows_segment_labels(driver, app, scene_path, tmp_path):
    from selenium.webdriver.common.by import By
    status = _submit(driver, app.url, scene_path, NAMES)
    assert 'Error' not in status, status
    overlay_src = _wait(driver, lambda d: _attribute(d, '#overlay img', 'src'), 'no overlay')
    labels_href = _wait(driver, lambda d: _attribute(d, '#labels a', 'href'), 'no labels')
    shown_labels = _fetch_image(labels_href)
    shown_overlay = _fetch_image(overlay_src)

    expected = segment(init_segmentor('tiny-synthetic', device='cpu'), scene_path, NAMES)
    np.testing.assert_array_equal(shown_labels, expected.labels)
    image = read_rgb(scene_path)
    np.testing.assert_array_equal(
        shown_overlay, np.asarray(render_overlay(image, expected.labels, expected.classes)))
    present = [expected.classes[index] for index in np.unique(expected.labels)]
    _wait(driver, lambda d: all(name in d.find_element(By.CSS_SELECTOR, '#shares').text
                                for name in present), f'the shares do not list {present}')

    # One compared mode: its overlay appears beside the main one, captioned, segment()'s.
    next(label for label in driver.find_elements(By.CSS_SELECTOR, '#compare label')
         if label.text.strip() == 'naclip').click()
    driver.find_element(By.CSS_SELECTOR, '#segment').click()
    _wait(driver, lambda d: 'compared with naclip' in (_final_status(d) or ''),
          'no comparison result')
    compared_src = _wait(driver, lambda d: _attribute(d, '#comparison img', 'src'),
                         f'no compared overlay:\n{_inner_html(driver, "#comparison")}')
    assert 'naclip' in driver.find_element(By.CSS_SELECTOR, '#comparison').text, \
        _inner_html(driver, '#comparison')
    expected = _segment_with('naclip', scene_path, None)
    np.testing.assert_array_equal(
        _fetch_image(compared_src),
        np.asarray(render_overlay(image, expected.labels, expected.classes)))

    driver.save_screenshot(str(tmp_path / 'app.png'))
    readme_copy = os.environ.get('MMSEG_CLIPSEG_APP_SCREENSHOT')
    if readme_copy:
        driver.save_screenshot(readme_copy)

    # Another dense mode and the background rule, chosen in the page: a second segmentor.
    dense_mode = driver.find_element(By.CSS_SELECTOR, '#dense-mode input')
    dense_mode.click()
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, 'li[role=option][aria-label=maskclip]'),
          'no maskclip in the dense modes').click()
    driver.find_element(By.CSS_SELECTOR, '#background input[value=text]').click()
    driver.find_element(By.CSS_SELECTOR, '#segment').click()
    status = _wait(driver, lambda d: 'maskclip' in (_final_status(d) or '') and _final_status(d),
                   'no maskclip result')
    assert 'maskclip, background text' in status, status
    # The components may be redrawn one after the other: wait for the new labels file.
    shown_labels = _fetch_image(_wait(
        driver, lambda d: _attribute(d, '#labels a', 'href') not in (None, labels_href)
        and _attribute(d, '#labels a', 'href'), 'the labels file was not replaced'))
    expected = segment(init_segmentor('tiny-synthetic', device='cpu',
                                      **{'backbone.dense_mode': 'maskclip'}),
                       scene_path, NAMES, background='text')
    np.testing.assert_array_equal(shown_labels, expected.labels)
    _assert_local_requests_only(driver, app.url)
    log = app.log.read_text()
    assert 'Running on local URL:  http://127.0.0.1:' in log, log
    assert 'OUTSIDE' not in log, log  # the server looked up or called no other machine


def _assert_local_requests_only(driver, url: str) -> None:
    import json
    requested = {json.loads(entry['message'])['message']['params']['request']['url']
                 for entry in driver.get_log('performance')
                 if '"Network.requestWillBeSent"' in entry['message']}
    assert requested, 'no requests were logged'
    # Chromium's own pages (chrome://), data: and blob: URLs never leave the browser.
    web = [u for u in requested if u.startswith(('http:', 'https:', 'ws:', 'wss:'))]
    assert any(u.startswith(url) for u in web), requested
    outside = [u for u in web if not u.startswith((url, url.replace('http:', 'ws:')))]
    assert not outside, f'the page asked outside {url}: {outside}'


def _write_unreadable(path) -> str:
    path.write_bytes(b'this is not an image\n' * 10)
    return str(path)


def _write_too_large(path) -> str:
    Image.new('RGB', (5000, 4000)).save(path)
    return str(path)


@pytest.mark.browser
@pytest.mark.parametrize('case, message', [
    ('no names', 'No class names'),
    ('10,000 names', '10000 classes were given'),
    ('unreadable file', "'broken.png' is not an image file"),
    ('too large', 'megapixels'),
])
def test_page_shows_mistakes(driver, app, scene_path, tmp_path, case, message):
    names, image = NAMES, scene_path
    if case == 'no names':
        names = ''
    elif case == '10,000 names':
        names = ', '.join(f'class{index}' for index in range(10000))
    elif case == 'unreadable file':
        image = _write_unreadable(tmp_path / 'broken.png')
    else:
        image = _write_too_large(tmp_path / 'large.png')
    status = _submit(driver, app.url, image, names)
    assert status.startswith('Error:') and message in status, status
    assert len(status.splitlines()) == 1 and 'Traceback' not in status, status
    assert '/tmp' not in status, status  # the upload's own name, not the server's copy


def test_arguments_checked_before_gradio(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'gradio', None)  # importing it now fails
    with pytest.raises(SystemExit) as exit_info:
        app_command.main(['--help'])
    assert exit_info.value.code == 0 and '--port' in capsys.readouterr().out
    with pytest.raises(web_app.UserInputError, match='--port 0 is not a port'):
        app_command.main(['--port', '0'])
    with pytest.raises(web_app.UserInputError, match='Unknown model'):
        app_command.main(['--model', 'vitz', '--port', str(_free_port())])
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(web_app.UserInputError, match=f'Cannot serve on 127.0.0.1:{port}'):
            app_command.main(['--port', str(port)])


def _segment_with(mode: str, image_path: str, background: Optional[str] = 'text'):
    """segment()'s result for :data:`NAMES` with a segmentor built for ``mode``."""
    segmentor = init_segmentor('tiny-synthetic', device='cpu', **{'backbone.dense_mode': mode})
    return segment(segmentor, image_path, NAMES, background=background)


def test_page_logic_equals_segment(scene_path, tmp_path):
    page = web_app.SegmentationPage(model_config('tiny-synthetic'), 'cpu', str(tmp_path))
    for mode in ('maskclip', 'clipseg', 'maskclip'):
        shown = page.run(scene_path, NAMES, mode, 'text')
        expected = _segment_with(mode, scene_path)
        np.testing.assert_array_equal(np.asarray(Image.open(shown.labels_file)),
                                      expected.labels)
        assert shown.status.startswith(f'64x64 image, 7 classes, {mode}, background text:'), \
            shown.status
        assert shown.comparison == []
        # The overlay's colours (render_overlay's, as tools/demo.py) are the segmentor's.
        assert page.segmentor().dataset_meta['palette'] == palette_for(expected.classes)


def test_page_logic_compares_modes_with_one_segmentor(scene_path, tmp_path):
    page = web_app.SegmentationPage(model_config('tiny-synthetic'), 'cpu', str(tmp_path))
    segmentor = page.segmentor()
    progress = []
    # Out of order, repeated and the main mode itself: each other mode once, in page order.
    shown = page.run(scene_path, NAMES, 'clipseg', 'text', compare=(
        'naclip', 'maskclip', 'clipseg', 'naclip'),
        progress=lambda share, desc: progress.append(desc))
    assert progress == ['Segmenting with clipseg', 'Segmenting with maskclip',
                        'Segmenting with naclip']
    assert 'background text (compared with maskclip, naclip):' in shown.status, shown.status
    np.testing.assert_array_equal(np.asarray(Image.open(shown.labels_file)),
                                  _segment_with('clipseg', scene_path).labels)
    image = read_rgb(scene_path)
    assert [caption for _, caption in shown.comparison] == ['maskclip', 'naclip']
    for overlay, mode in shown.comparison:
        expected = _segment_with(mode, scene_path)
        np.testing.assert_array_equal(
            np.asarray(overlay), np.asarray(render_overlay(image, expected.labels,
                                                           expected.classes)))
    # One segmentor, its config's mode restored, also after a mistake in a compared mode.
    assert page.segmentor() is segmentor and segmentor.backbone.dense_mode == 'clipseg'
    shown = page.run(scene_path, NAMES, 'maskclip', 'none', compare=['segformer'])
    assert 'Unknown dense mode' in shown.status and shown.comparison is None, shown.status
    with pytest.raises(web_app.UserInputError, match='dense_mode must be one of'):
        with page.dense_mode('segformer'):
            pass
    with pytest.raises(RuntimeError):
        with page.dense_mode('sclip'):
            raise RuntimeError('a failure inside segment()')
    assert segmentor.backbone.dense_mode == 'clipseg'


@pytest.mark.parametrize('names, dense_mode, message', [
    ('', 'clipseg', 'No class names'),
    ('grass', 'clipseg', 'single class'),
    ('synthetic.txt', 'clipseg', 'does not read files'),
    (NAMES, 'segformer', 'Unknown dense mode'),
])
def test_page_logic_mistakes(scene_path, tmp_path, names, dense_mode, message):
    page = web_app.SegmentationPage(model_config('tiny-synthetic'), 'cpu', str(tmp_path))
    shown = page.run(scene_path, names, dense_mode, 'none')
    assert shown.status.startswith('**Error:**') and message in shown.status, shown.status
    assert shown.as_tuple()[:4] == (None, None, None, None)


def _png_header_only(path, width: int, height: int) -> str:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with no pixel data
    (reading its size costs nothing; decoding it fails)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
                     + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
    return str(path)


@pytest.mark.parametrize('side', [5000, 20000])  # above ours; above Pillow's bomb limit too
def test_page_refuses_large_images_from_header(tmp_path, side):
    page = web_app.SegmentationPage(model_config('tiny-synthetic'), 'cpu', str(tmp_path))
    shown = page.run(_png_header_only(tmp_path / 'large.png', side, side), NAMES, 'clipseg',
                     'none')
    assert shown.status.startswith('**Error:**') and 'megapixels' in shown.status, \
        shown.status


def test_main_leaves_the_environment_alone(monkeypatch):
    """Gradio's analytics are switched off by its own parameter (gr.Blocks), not by a
    process-wide environment variable."""
    monkeypatch.setitem(sys.modules, 'gradio', None)  # main stops at the import of Gradio
    monkeypatch.delenv('GRADIO_ANALYTICS_ENABLED', raising=False)
    before = dict(os.environ)
    with pytest.raises(web_app.UserInputError, match='needs Gradio'):
        app_command.main(['--model', 'tiny-synthetic', '--port', str(_free_port())])
    assert dict(os.environ) == before
