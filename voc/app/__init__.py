"""The entry points on top of the house: the command line (``voc``); it starts the web workbench (``voc.web``),
the Prefect deployments (``voc.flows.serve``) and the demo (``voc.flows.demo``)."""
