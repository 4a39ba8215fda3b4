"""Order validation and the in-memory store, without HTTP."""

import threading
import unittest

from app.orders import InvalidOrder, OrderStore, parse_order


class ParseOrderTest(unittest.TestCase):
    def test_valid(self):
        self.assertEqual(parse_order({"item": " book ", "quantity": 3}), ("book", 3))
        self.assertEqual(parse_order({"item": "pen"}), ("pen", 1))

    def test_invalid(self):
        for body in (None, [], "x", {}, {"item": ""}, {"item": 5}, {"item": "x" * 201},
                     {"item": "x", "quantity": 1001}, {"item": "x", "quantity": 1.5},
                     {"item": "x", "extra": 1}):
            with self.subTest(body=body), self.assertRaises(InvalidOrder):
                parse_order(body)


class OrderStoreTest(unittest.TestCase):
    def test_get_returns_a_copy(self):
        store = OrderStore()
        order = store.create("book", 1)
        store.get(order["id"])["item"] = "changed"
        self.assertEqual(store.get(order["id"])["item"], "book")
        self.assertIsNone(store.get(order["id"] + 1))

    def test_concurrent_creates_get_unique_ids(self):
        store = OrderStore()
        threads = [threading.Thread(target=lambda: [store.create("x", 1) for _ in range(50)])
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [o["id"] for o in store.list()]
        self.assertEqual(sorted(ids), list(range(1, 401)))


if __name__ == "__main__":
    unittest.main()
