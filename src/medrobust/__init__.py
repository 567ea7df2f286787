"""medrobust: reproductions of published attacks on medical ML and the defenses against them."""
__version__ = "0.1.0"
