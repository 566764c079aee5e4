"""The PostgreSQL fixture gives each test a real database of its own."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_postgres_url_is_a_fresh_writable_database(postgres_url: str) -> None:
    """Rows committed in a transaction read back, in a database made for this test alone."""
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            database = connection.execute(text("SELECT current_database()")).scalar_one()
            connection.execute(text("CREATE TABLE scores (id integer PRIMARY KEY, score real)"))
            connection.execute(
                text("INSERT INTO scores VALUES (:id, :score)"),
                [{"id": 1, "score": 0.25}, {"id": 2, "score": 0.75}],
            )
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, score FROM scores ORDER BY id")).all()
    finally:
        engine.dispose()

    assert database.startswith("test_")
    assert [tuple(row) for row in rows] == [(1, 0.25), (2, 0.75)]
