from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.shop import ORDER_STATUSES, Customer, Order
from careline.db.seed import CUSTOMERS, DEMO_CUSTOMERS, ORDERS, build, seed


def _fingerprint(customers):
    return [(c.name, c.email, [(o.number, o.status, o.total_cents) for o in c.orders]) for c in customers]


def test_build_is_deterministic_for_a_day():
    day = date(2026, 1, 15)
    assert _fingerprint(build(day)) == _fingerprint(build(day))


def test_seed_fills_every_status_and_is_idempotent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    assert seed(engine, today=date(2026, 11, 23)) == ORDERS
    assert seed(engine, today=date(2026, 11, 23)) == 0
    with Session(engine) as session:
        assert session.execute(select(func.count(Customer.id))).scalar_one() == CUSTOMERS
        statuses = set(session.execute(select(Order.status)).scalars())
        assert statuses == set(ORDER_STATUSES)
        for demo in DEMO_CUSTOMERS:
            customer = session.execute(select(Customer).where(Customer.email == demo.email)).scalar_one()
            assert sorted(o.number for o in customer.orders) == sorted(d.number for d in demo.orders)
            assert all(o.total_cents > 0 and o.items for o in customer.orders)


def test_reset_starts_over(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    seed(engine, today=date(2026, 11, 23))
    assert seed(engine, today=date(2026, 11, 23), reset=True) == ORDERS
