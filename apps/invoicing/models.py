"""Invoices (see the invoicing issue)."""
