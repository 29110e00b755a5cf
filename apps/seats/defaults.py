"""Default seat tiers per plan kind. An organization gets its own copy, which staff may change per customer."""

from decimal import Decimal

from apps.organizations.models import PlanKind

from .models import Product, TierCode

ALL_PRODUCTS = [Product.CHAT, Product.CLAUDE_CODE, Product.COWORK]
HIPAA_FEE_PER_SEAT = Decimal("5.00")

# (code, monthly fee, included usage at API rates, products)
DEFAULT_TIERS = {
    PlanKind.TEAM: [
        (TierCode.STANDARD, Decimal("30.00"), Decimal("25.00"), ALL_PRODUCTS),
        (TierCode.PREMIUM, Decimal("150.00"), Decimal("125.00"), ALL_PRODUCTS),
    ],
    PlanKind.ENTERPRISE_SEAT: [
        (TierCode.STANDARD, Decimal("40.00"), Decimal("30.00"), ALL_PRODUCTS),
        (TierCode.PREMIUM, Decimal("200.00"), Decimal("160.00"), ALL_PRODUCTS),
    ],
    PlanKind.ENTERPRISE_USAGE: [
        (TierCode.CHAT, Decimal("20.00"), Decimal("0"), [Product.CHAT, Product.COWORK]),
        (TierCode.CHAT_CODE, Decimal("40.00"), Decimal("0"), ALL_PRODUCTS),
    ],
}
