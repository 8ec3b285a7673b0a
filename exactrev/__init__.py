"""exactrev: exact reverse-engineering of deep ReLU networks from queries, with certificates.

Rolnick & Kording, "Reverse-engineering deep ReLU networks" (ICML 2020), done in exact arithmetic.
"""

from . import degenerate
from .assumptions import check_assumptions
from .canonical import canonical_form, isomorphic, random_isomorphic_twin
from .certify import Certificate, certify
from .errors import BudgetExceeded, ExactrevError, FormatError, Interrupted, OracleError
from .extract import extract
from .first_layer import extract_first_layer
from .interop import from_torch, load_target
from .network import Network
from .oracle import Oracle
from .random_net import random_network

__all__ = [
    "BudgetExceeded", "Certificate", "ExactrevError", "FormatError", "Interrupted", "Network", "Oracle",
    "OracleError", "canonical_form", "certify", "check_assumptions", "degenerate", "extract",
    "extract_first_layer", "from_torch", "isomorphic", "load_target", "random_isomorphic_twin", "random_network",
]
__version__ = "0.1.0"
