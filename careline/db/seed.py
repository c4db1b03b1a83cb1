"""Deterministic, realistic demo data for the shop database.

The same seed and day always give the same rows. Dates are relative to the day of
seeding so that "processing" orders are recent and "delivered" ones are in the past.
The demo customers below are documented in README.md.

`python -m careline.demo` migrates, seeds and adds the demo desk accounts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from careline.db.engine import Base
from careline.db.migrate import migrate
from careline.db.models.shop import Charge, Customer, Order, OrderItem
from careline.shared import utctoday

CUSTOMERS = 200
ORDERS = 1000

FIRST_NAMES = (
    "Maria", "James", "Priya", "Liam", "Olivia", "Noah", "Emma", "Ava", "Sophia", "Mateo",
    "Chen", "Aisha", "Lucas", "Mia", "Ethan", "Zoe", "Hiroshi", "Fatima", "Daniel", "Grace",
    "Omar", "Hannah", "Diego", "Chloe", "Samuel", "Nora", "Ivan", "Leila", "Kwame", "Sara",
)
LAST_NAMES = (
    "Lopez", "Kim", "Shah", "Walsh", "Brown", "Garcia", "Nguyen", "Smith", "Okafor", "Rossi",
    "Chen", "Haddad", "Muller", "Kowalski", "Johnson", "Silva", "Tanaka", "Ali", "Murphy",
    "Novak", "Petrov", "Mensah", "Dubois", "Larsen", "Cohen", "Patel",
)
STREETS = (
    "Elm", "Oak", "Maple", "Cedar", "Pine", "Birch", "Willow", "Harbor", "Lake", "Hill", "Park",
    "River",
)
CITIES = (
    ("Portland", "OR", "97205"), ("Austin", "TX", "78701"), ("Boston", "MA", "02108"),
    ("Denver", "CO", "80202"), ("Chicago", "IL", "60601"), ("Seattle", "WA", "98101"),
    ("Atlanta", "GA", "30303"), ("Madison", "WI", "53703"),
)
PRODUCTS = (
    ("HP-LMP-01", "Brass table lamp", "89.00"), ("HP-THR-02", "Linen throw", "59.00"),
    ("HP-SDT-03", "Oak side table", "149.00"), ("HP-MUG-04", "Stoneware mug set", "34.00"),
    ("HP-RUG-05", "Wool area rug", "229.00"), ("HP-CUS-06", "Velvet cushion", "29.00"),
    ("HP-VAS-07", "Glass vase", "42.00"), ("HP-CHR-08", "Rattan dining chair", "179.00"),
    ("HP-PAN-09", "Cast iron pan", "64.00"), ("HP-SHF-10", "Walnut wall shelf", "99.00"),
    ("HP-CDL-11", "Soy candle trio", "24.00"), ("HP-BED-12", "Percale duvet cover", "119.00"),
    ("HP-MIR-13", "Round wall mirror", "139.00"), ("HP-KET-14", "Electric kettle", "79.00"),
)
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
TIERS = ("standard", "standard", "standard", "plus", "plus", "premium")
STATUS_WEIGHTS = {
    "processing": 12, "shipped": 16, "out_for_delivery": 6, "delivered": 44,
    "delayed": 8, "cancelled": 7, "returned": 7,
}


@dataclass(frozen=True)
class DemoOrder:
    number: str
    status: str
    items: Sequence[Tuple[str, int]]  # (sku, quantity)
    days_ago: int


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    email: str
    tier: str
    orders: Sequence[DemoOrder]


DEMO_CUSTOMERS = (
    DemoCustomer("Maria Lopez", "maria.lopez@example.com", "plus", (
        DemoOrder("CL-100001", "shipped", (("HP-LMP-01", 1), ("HP-THR-02", 2)), 3),
        DemoOrder("CL-100002", "processing", (("HP-SDT-03", 1),), 0),
    )),
    DemoCustomer("James Kim", "jkim88@example.net", "standard", (
        DemoOrder("CL-100003", "delivered", (("HP-MUG-04", 1),), 12),
    )),
    DemoCustomer("Priya Shah", "priya.shah@example.org", "premium", (
        DemoOrder("CL-100004", "delayed", (("HP-RUG-05", 1), ("HP-CUS-06", 4)), 14),
    )),
)


def _address(rng: random.Random) -> str:
    city, state, zip_code = rng.choice(CITIES)
    return f"{rng.randint(1, 980)} {rng.choice(STREETS)} Street, {city}, {state} {zip_code}"


def _order(
    rng: random.Random, number: str, customer: Customer, status: str,
    items: Sequence[Tuple[str, int]], placed_day: date,
) -> Order:
    prices = {sku: (name, int(Decimal(price) * 100)) for sku, name, price in PRODUCTS}
    lines = [
        OrderItem(sku=sku, name=prices[sku][0], quantity=qty, unit_price_cents=prices[sku][1])
        for sku, qty in items
    ]
    subtotal = sum(line.unit_price_cents * line.quantity for line in lines)
    shipping = 0 if subtotal >= 5000 else 495
    promised = placed_day + timedelta(days=5)
    shipped = status in ("shipped", "out_for_delivery", "delivered", "delayed", "returned")
    carrier = rng.choice(CARRIERS) if shipped else None
    return Order(
        number=number,
        customer=customer,
        placed_at=datetime.combine(placed_day, time(rng.randint(7, 22), rng.randint(0, 59))),
        status=status,
        total_cents=subtotal + shipping,
        currency="USD",
        shipping_address=_address(rng),
        carrier=carrier,
        tracking_number=f"{carrier[:2].upper()}{rng.randint(10**9, 10**10 - 1)}" if carrier else None,
        promised_date=None if status == "cancelled" else promised,
        delivered_date=(
            promised - timedelta(days=rng.randint(0, 2)) if status in ("delivered", "returned") else None
        ),
        items=lines,
    )


def _placed_days_ago(rng: random.Random, status: str) -> int:
    ranges = {
        "processing": (0, 1), "shipped": (1, 4), "out_for_delivery": (3, 5),
        "delivered": (6, 300), "delayed": (7, 20), "cancelled": (1, 200), "returned": (20, 300),
    }
    low, high = ranges[status]
    return rng.randint(low, high)


def build(today: date, rng_seed: int = 7) -> List[Customer]:
    """All demo rows as unsaved objects (customers with their orders attached)."""
    rng = random.Random(rng_seed)
    customers: List[Customer] = []
    numbers = set()
    for demo in DEMO_CUSTOMERS:
        customer = Customer(name=demo.name, email=demo.email, phone="+1 503 555 0100",
                            tier=demo.tier, since=today - timedelta(days=700))
        for spec in demo.orders:
            _order(rng, spec.number, customer, spec.status, spec.items, today - timedelta(days=spec.days_ago))
            numbers.add(spec.number)
        customers.append(customer)
    used_emails = {c.email for c in customers}
    while len(customers) < CUSTOMERS:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{rng.randint(1, 999)}@example.com".lower()
        if email in used_emails:
            continue
        used_emails.add(email)
        customers.append(Customer(
            name=f"{first} {last}", email=email,
            phone=f"+1 {rng.randint(200, 989)} 555 {rng.randint(1000, 9999)}",
            tier=rng.choice(TIERS), since=today - timedelta(days=rng.randint(30, 2000)),
        ))
    statuses = list(STATUS_WEIGHTS)
    weights = [STATUS_WEIGHTS[s] for s in statuses]
    count = sum(len(d.orders) for d in DEMO_CUSTOMERS)
    while count < ORDERS:
        number = f"CL-{rng.randint(200000, 999999)}"
        if number in numbers:
            continue
        numbers.add(number)
        # Cycle through every status first so that each one is present.
        status = statuses[count % len(statuses)] if count < 20 else rng.choices(statuses, weights)[0]
        items = [(sku, rng.choice((1, 1, 1, 2, 3))) for sku, _, _ in rng.sample(PRODUCTS, rng.randint(1, 4))]
        _order(rng, number, rng.choice(customers[len(DEMO_CUSTOMERS):]), status, items,
               today - timedelta(days=_placed_days_ago(rng, status)))
        count += 1
    return customers


def _charges(rng: random.Random, customers: Sequence[Customer], today: date) -> List[Charge]:
    """A payment charge per order, and surprise service fees for some customers (Maria's is documented)."""
    charges = []
    for customer in customers:
        for order in customer.orders:
            charges.append(Charge(customer=customer, order=order, kind="order_payment",
                                  description=f"Payment for order {order.number}",
                                  amount_cents=order.total_cents, charged_at=order.placed_at, waivable=False))
    fee_payers = [customers[0]] + rng.sample(list(customers[len(DEMO_CUSTOMERS):]), 30)
    for customer in fee_payers:
        charges.append(Charge(
            customer=customer, kind="service_fee", amount_cents=1499, waivable=True,
            description="Plus membership service charge (introductory rate ended)",
            charged_at=datetime.combine(today - timedelta(days=rng.randint(1, 20)), time(3, 0)),
        ))
    return charges


def reset_database(engine: Engine) -> None:
    """Drop every table of the shop database, Alembic's version table included."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def seed(engine: Engine, today: Optional[date] = None, reset: bool = False) -> int:
    """Migrate the schema and load the demo data once; return how many orders were added."""
    if reset:
        reset_database(engine)
    migrate(engine)
    with Session(engine) as session:
        if session.execute(select(func.count(Customer.id))).scalar_one():
            return 0
        day = today or utctoday()
        customers = build(day)
        session.add_all(customers)
        session.add_all(_charges(random.Random(11), customers, day))
        session.commit()
        added: int = session.execute(select(func.count(Order.id))).scalar_one()
        return added
