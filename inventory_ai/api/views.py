"""API views."""

from __future__ import annotations

from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory_ai.selectors import stats


class StatsView(APIView):
    """Counts for operators: webhook events by status, stores, variants, orders, order lines and net units."""

    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response(stats())
