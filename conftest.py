"""In-repo glue only: the kit's pytest plugin (``harness.pytest_plugin``) is loaded through its
``pytest11`` entry point once the package is installed (``pip install -e .``)."""
