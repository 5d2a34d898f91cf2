"""Training of the neural and transformer generations (needs ``pip install 'affectkit[train]'``)."""
