"""offhours: start and stop EC2 instances on the hours their tags give."""

__version__ = "0.1.0"
