import hashlib

import pytest

from middleware.directory import DidRow, PhoneRow, QueueRow
from middleware.provision.render import ProvisionError, render_extensions, render_pjsip, render_queues

PHONE = PhoneRow("acme-1001", "alice-pw-1001", "Alice Archer", "alaw,ulaw", "acme", "1001")


def test_phone_becomes_endpoint_auth_and_aor() -> None:
    text = render_pjsip([PHONE])
    assert "[acme-1001](agent-endpoint)" in text
    # HA1 = md5("acme-1001:callcenter:alice-pw-1001"): the file holds no password a reader could use.
    ha1 = hashlib.md5(b"acme-1001:callcenter:alice-pw-1001").hexdigest()
    assert f"[acme-1001](agent-auth)\nusername = acme-1001\npassword_digest = MD5:{ha1}\n" in text
    assert "alice-pw-1001" not in text
    assert "[acme-1001](agent-aor)" in text
    assert 'callerid = "Alice Archer" <acme-1001>' in text


@pytest.mark.parametrize("secret", ["pw\n[evil](agent-endpoint)", "pw;comment"])
def test_values_cannot_inject_config(secret: str) -> None:
    with pytest.raises(ProvisionError):
        render_pjsip([PhoneRow("acme-1001", secret, "", "alaw", "acme", None)])


def test_queue_strategy_is_in_the_queue_section_not_the_template() -> None:
    text = render_queues([QueueRow("acme-sales", "acme", "leastrecent", 15, 5, 20, 300)])
    assert "[acme-sales](queue-template)\nstrategy = leastrecent\ntimeout = 15\nwrapuptime = 5" in text


def test_campaign_queues_weigh_less_than_inbound_and_retry_every_second() -> None:
    text = render_queues([QueueRow("acme-sales", "acme", "leastrecent", 15, 5, 20, 300),
                          QueueRow("dialer-spring", "acme", "leastrecent", 15, 1, 2, 2, weight=0)])
    inbound, campaign = text.split("[dialer-spring]")
    assert "weight = 10\n" in inbound and "retry" not in inbound
    assert "weight = 0\n" in campaign and "retry = 1\n" in campaign


def test_did_sets_tenant_and_fallback_then_enters_inbound() -> None:
    text = render_extensions([DidRow("5551000", 1, "acme", "acme-support", "acme-main")], [PHONE])
    assert "exten => 5551000,1,Set(__CC_TENANT=acme)" in text
    assert "Set(__CC_FALLBACK_QUEUE=acme-support)" in text
    assert "Goto(inbound,s,1)" in text
    assert "[phones-acme]\nexten => acme-1001,1,Dial(PJSIP/acme-1001,30)" in text


def test_each_tenants_phones_dial_only_their_own_tenants_phones() -> None:
    """[phones-generated] used to be one context for every tenant: acme's phone could ring beta's."""
    beta = PhoneRow("beta-2001", "s3cret-s3cret", "", "alaw", "beta", "2001")
    text = render_extensions([], [PHONE, beta])
    acme = text[text.index("[agents-acme]"):text.index("[agents-beta]")]
    assert "include => agents\ninclude => phones-acme\n" in acme
    assert "acme-1001" in acme and "beta-2001" not in acme and "phones-generated" not in text
    assert "context = agents-beta\n" in render_pjsip([beta])


def test_transfer_targets_are_per_tenant_queues_and_phones() -> None:
    queues = [QueueRow("acme-tier2", "acme", "linear", 15, 5, 20, 300, extension="702"),
              QueueRow("acme-sales", "acme", "ringall", 15, 5, 20, 300),
              QueueRow("beta-help", "beta", "ringall", 15, 5, 20, 300, extension="702")]
    phone = PhoneRow("acme-1001", "s3cret-s3cret", "", "alaw", "acme", "1001")
    text = render_extensions([], [phone], queues)
    acme = text[text.index("[transfer-acme]"):text.index("[transfer-beta]")]
    assert "exten => 702,1,Set(CC_QUEUE=acme-tier2)" in acme and "beta-help" not in acme
    assert "exten => 1001,1,Set(CC_TRANSFER_PHONE=acme-1001)" in acme
    assert "exten => acme-1001,1,Set(CC_TRANSFER_PHONE=acme-1001)" in acme
    assert "acme-sales" not in acme  # no extension: not a transfer target
    assert "exten => 702,1,Set(CC_QUEUE=beta-help)" in text[text.index("[transfer-beta]"):]


def test_a_trailing_newline_cannot_slip_into_the_config() -> None:
    with pytest.raises(ProvisionError):
        render_pjsip([PhoneRow("acme-1001\n", "s3cret-s3cret", "", "alaw", "acme", None)])


def test_cdr_pgsql_points_at_the_middlewares_database() -> None:
    from middleware.provision.render import render_cdr_pgsql

    text = render_cdr_pgsql("host=127.0.0.1 port=5432 dbname=cc_test_1 user=postgres")
    assert "[global]\nhostname = 127.0.0.1\nport = 5432\ndbname = cc_test_1\nuser = postgres\n" in text
    assert "table = cdr\n" in text and "password = \n" in text
    assert "hostname = 127.0.0.1" in render_cdr_pgsql("dbname=x host=/var/run/postgresql")
    with pytest.raises(ProvisionError):
        render_cdr_pgsql("dbname='x\ny' host=127.0.0.1")
