"""Reports: the data contract (``reports.model``) and pure rendering (``reports.render``)."""
