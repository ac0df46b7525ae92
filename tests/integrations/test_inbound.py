"""Parsing inbound mail: bodies, charsets, ids and the quoted part of replies."""

from __future__ import annotations

import pytest

from lightningtrack.resolvers import inbound


def test_plain_text_is_preferred_and_charsets_are_decoded() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <JUERGEN@Example.com>\r\n"
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
        b"Message-ID: <abc@example.com>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Sch=F6ne Gr=FC=DFe\r\n"
    )
    mail = inbound.parse(raw)
    assert mail.subject == "Grüße"
    assert mail.text == "Schöne Grüße"
    assert mail.sender == "Jürgen <juergen@example.com>"
    assert mail.message_id == "<abc@example.com>"


def test_an_unknown_charset_does_not_stop_the_message() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=x-unknown-42\r\n\r\nplain \xe9 text\r\n"
    )
    mail = inbound.parse(raw)
    assert mail.text.startswith("plain ") and mail.text.endswith(" text")
    # No Message-ID: one derived from the bytes, the same at every poll.
    assert mail.message_id == inbound.parse(raw).message_id
    assert mail.message_id.startswith("<sha256-")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Subject: no sender\r\n\r\nbody",
        b"From: not an address\r\nSubject: x\r\n\r\nbody",
    ],
)
def test_mail_without_a_sender_is_malformed(raw: bytes) -> None:
    with pytest.raises(inbound.Malformed):
        inbound.parse(raw)


def test_the_quoted_part_of_a_reply_is_left_out() -> None:
    text = "Thanks, that fixed it.\n\nOn Mon, 2 Mar 2026 at 10:00, Support wrote:\n> Try this"
    assert inbound.strip_quoted(text) == "Thanks, that fixed it."
    assert inbound.strip_quoted("> only a quote") == "> only a quote"
    assert inbound.strip_quoted("Top\n\n-----Original Message-----\nold") == "Top"
