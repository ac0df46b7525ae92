"""Billing: plans and Checkout, Stripe's events, and the subscription lifecycle.

Stripe is the truth of a subscription. The landlord keeps only references (customer and
subscription ids, plan, period end, the card's last four digits) and the workspace's
standing derived from them; every event makes the workspace read Stripe's current state
again, so events in any order, repeated or not, end in the same place.
"""
