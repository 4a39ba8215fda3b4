import unittest

from app.pricing import discount_percent, total_cents


class PricingTest(unittest.TestCase):
    def test_no_discount_below_ten(self):
        self.assertEqual(discount_percent(9), 0)
        self.assertEqual(total_cents(1000, 1), 1200)

    def test_quantity_discounts(self):
        self.assertEqual(discount_percent(10), 5)
        self.assertEqual(discount_percent(100), 10)
        self.assertEqual(total_cents(100, 10, "zero"), 950)

    def test_reduced_rate_rounds_half_up(self):
        self.assertEqual(total_cents(333, 1, "reduced"), 350)

    def test_refuses_nonsense(self):
        with self.assertRaises(ValueError):
            total_cents(100, 0)
        with self.assertRaises(ValueError):
            total_cents(100, 1, "luxury")


if __name__ == "__main__":
    unittest.main()
