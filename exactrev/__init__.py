"""exactrev: exact reverse-engineering of deep ReLU networks from queries, with certificates.

Rolnick & Kording, "Reverse-engineering deep ReLU networks" (ICML 2020), done in exact arithmetic.
"""

from .canonical import canonical_form, isomorphic, random_isomorphic_twin
from .errors import BudgetExceeded, ExactrevError, FormatError, OracleError
from .network import Network
from .oracle import Oracle
from .random_net import random_network

__all__ = [
    "BudgetExceeded", "ExactrevError", "FormatError", "Network", "Oracle", "OracleError",
    "canonical_form", "isomorphic", "random_isomorphic_twin", "random_network",
]
__version__ = "0.1.0"
