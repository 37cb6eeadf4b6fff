"""The purchases kept for matching returns, in SQLite's temporary database instead of Python objects."""

from __future__ import annotations

from integrations.purchase_book import PurchaseBook


def test_returns_take_the_most_recent_purchases_first_across_written_batches():
    # given a book that writes every two additions, and three purchases of one item by one customer
    book = PurchaseBook(buffer_rows=2)
    book.add("c1", "A", "100", "1001", 3)
    book.add("c1", "A", "101", "1011", 2)
    book.add("c1", "A", "102", "1021", 1)  # still in the buffer
    book.add("c2", "A", "103", "1031", 5)  # another customer's

    # when the customer returns 4 units, then 5 more
    first = book.take("c1", "A", 4)
    second = book.take("c1", "A", 5)

    # then the newest purchase is drawn on first, each unit once, and nothing is left beyond what was bought
    assert first == [("102", "1021", 1), ("101", "1011", 2), ("100", "1001", 1)]
    assert second == [("100", "1001", 2)]
    assert book.take("c1", "A", 1) == []
    assert book.take("c1", "B", 1) == []
    assert book.take("c2", "A", 9) == [("103", "1031", 5)]


def test_an_invoices_line_count_survives_being_written_out():
    book = PurchaseBook(buffer_rows=2)
    assert book.line_count("500") == 0
    book.set_line_count("500", 3)
    book.set_line_count("501", 1)  # the second fills the buffer: both are written
    book.set_line_count("502", 7)
    assert (book.line_count("500"), book.line_count("501"), book.line_count("502")) == (3, 1, 7)
    book.set_line_count("500", 5)  # the invoice reappears later in the file
    book.flush()
    assert book.line_count("500") == 5
    book.close()
