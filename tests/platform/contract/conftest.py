from platform_contract import contract

__all__ = ["contract"]
