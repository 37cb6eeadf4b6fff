"""Inventory AI: demand forecasting and replenishment for Shopify and WooCommerce stores, as a Django app."""

from inventory_ai.celery import app as celery_app

__all__ = ("celery_app",)
