import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, affectkit; affectkit.__version__; "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'sklearn', 'matplotlib', 'pandas') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_review_modules_is_light():
    code = (
        "import sys, affectkit.reviews, affectkit.reviews.pipeline, affectkit.reviews.topics, "
        "affectkit.reviews.report, affectkit.cli.main, affectkit.service, affectkit.explain; "
        "heavy = ('torch', 'pandas', 'pyarrow', 'bertopic', 'umap', 'hdbscan', 'ray', 'matplotlib', 'onnxruntime', "
        "'fastapi', 'uvicorn'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_loading_and_predicting_needs_no_torch():
    code = (
        "import sys, affectkit; m = affectkit.load('sentiment'); e = affectkit.load('emotion'); "
        "m.predict_proba(['fine']); e.predict_proba(['fine']); affectkit.load('classic').predict_proba(['ok']); "
        "print(','.join(x for x in ('torch', 'transformers', 'sklearn', 'onnx') if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_logging_side_effects_at_import():
    code = "import logging, affectkit, affectkit.registry; print(len(logging.getLogger().handlers))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_unknown_attribute():
    import pytest

    import affectkit

    with pytest.raises(AttributeError):
        affectkit.does_not_exist  # noqa: B018
