"""Private copies of the demo customers, for tests that change a customer's money or orders.

On the shared system a refund, a waiver or an order update would stay for every later test
(a second waiver within a year is escalated, a third claim in a month goes to a person, failed
checks lock an order for everyone). A test that changes such state works on a copy: the same
name, tier, orders, items and fees, under a new email and new order numbers no other test knows.
"""
from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence


@dataclass(frozen=True)
class CustomerCopy:
    customer_id: int
    name: str
    email: str
    orders: Mapping[str, str]  # the demo order's number -> the copy's

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def order(self, demo_number: str) -> str:
        return self.orders[demo_number]


def _columns(db: sqlite3.Connection, table: str) -> List[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})") if row[1] != "id"]


def _copy_row(db: sqlite3.Connection, table: str, row_id: int, changes: Mapping[str, object]) -> int:
    """Insert a copy of one row (every column as stored, but `changes`); return the new id."""
    columns = _columns(db, table)
    unknown = set(changes) - set(columns)
    assert not unknown, f"{table} has no column {unknown}"
    values = ", ".join(f":{name}" if name in changes else name for name in columns)
    cursor = db.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} WHERE id = :id",
                        {**changes, "id": row_id})
    assert cursor.rowcount == 1, (table, row_id)
    return int(cursor.lastrowid)


def _free_number(db: sqlite3.Connection, taken: Sequence[str]) -> str:
    """An order number nobody has: the seed uses CL-100001..CL-100004 and CL-200000 upwards."""
    while True:
        number = f"CL-1{secrets.randbelow(90_000) + 10_000:05d}"
        if number not in taken and not db.execute("SELECT 1 FROM orders WHERE number = ?", (number,)).fetchone():
            return number


def copy_customer(system, email: str) -> CustomerCopy:
    """A new customer that is a copy of the demo customer with `email`: orders, items and fees included."""
    with sqlite3.connect(system.var_dir / "careline.db", timeout=30) as db:
        found = db.execute("SELECT id, name FROM customers WHERE email = ?", (email,)).fetchone()
        assert found, f"no demo customer {email}"
        demo_id, name = found
        local, domain = email.split("@")
        copy_email = f"{local}.{secrets.token_hex(4)}@{domain}"
        customer_id = _copy_row(db, "customers", demo_id, {"email": copy_email})
        numbers: Dict[str, str] = {}
        order_ids: Dict[int, int] = {}
        for order_id, number in db.execute("SELECT id, number FROM orders WHERE customer_id = ? ORDER BY id",
                                           (demo_id,)).fetchall():
            numbers[number] = _free_number(db, list(numbers.values()))
            order_ids[order_id] = _copy_row(db, "orders", order_id,
                                            {"number": numbers[number], "customer_id": customer_id})
            for (item_id,) in db.execute("SELECT id FROM order_items WHERE order_id = ? ORDER BY id",
                                         (order_id,)).fetchall():
                _copy_row(db, "order_items", item_id, {"order_id": order_ids[order_id]})
        charges = db.execute("SELECT id, order_id, description FROM charges WHERE customer_id = ? ORDER BY id",
                             (demo_id,)).fetchall()
        for charge_id, order_id, description in charges:
            for old, new in numbers.items():
                description = description.replace(old, new)
            _copy_row(db, "charges", charge_id, {"customer_id": customer_id, "description": description,
                                                 "order_id": order_ids.get(order_id)})
        db.commit()
    return CustomerCopy(customer_id=customer_id, name=name, email=copy_email, orders=numbers)


def maria(system) -> CustomerCopy:
    """Maria Lopez (plus): CL-100001 shipped (lamp, 2 throws), CL-100002 processing, a $14.99 surprise fee."""
    return copy_customer(system, "maria.lopez@example.com")


def james(system) -> CustomerCopy:
    """James Kim: CL-100003 delivered (a mug set)."""
    return copy_customer(system, "jkim88@example.net")


def priya(system) -> CustomerCopy:
    """Priya Shah (premium): CL-100004 delayed, 9 days late."""
    return copy_customer(system, "priya.shah@example.org")
