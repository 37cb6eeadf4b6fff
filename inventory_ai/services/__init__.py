"""Every write of domain state goes through a function in this package."""
