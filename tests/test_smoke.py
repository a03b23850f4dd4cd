from tests import factories


def test_order_walks_whole_life(db):
    order = factories.make_order("archived")
    assert order.state == "archived"
