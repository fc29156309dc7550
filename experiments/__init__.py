"""bnlab's experiments: pure PyTorch/NumPy/matplotlib science code.

Nothing here imports Flask, Celery or SQLAlchemy; every question type runs from a Python shell:

    >>> from experiments import catalog
    >>> result = catalog.get("small_batch_statistics").run_preset("smoke", out_dir="out")
"""
