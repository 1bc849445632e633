"""The client_ip rule: exactly the addresses ``ipaddress`` accepts, fast path or not."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import ApiCallEvent
from detector.pipeline.validate import validate_one
from tests.factories import encode, event


def _accepted_by_ipaddress(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_octets = st.one_of(
    st.integers(0, 300).map(str),
    st.integers(0, 99).map(lambda n: f"0{n}"),
    st.sampled_from(["", "00", "1 ", " 1", "+1", "-1", "\u0661", "1\n", "0x1", "256", "2555"]),
)
addresses = st.one_of(
    st.lists(_octets, min_size=3, max_size=5).map(".".join),
    st.ip_addresses().map(str),
    st.text(max_size=20),
)


@settings(max_examples=500, deadline=None)
@given(addresses)
def test_client_ip_is_valid_exactly_when_ipaddress_accepts_it(address: str) -> None:
    """A dotted quad, an IPv6 address or junk: valid iff the standard library parses it."""
    result = validate_one(encode(event(client_ip=address)), max_message_bytes=65_536)
    assert isinstance(result, ApiCallEvent) == _accepted_by_ipaddress(address)
