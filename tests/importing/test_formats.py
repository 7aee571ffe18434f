"""Each format read from a sample file written for these tests: FreePBX's Bulk Handler export,
a pjsip.conf with templates and a trunk, a sip.conf with templates; and telesip's own CSV."""

from __future__ import annotations

import pytest

from telesip.importing import CSV, FREEPBX, PJSIP, SIP_CONF
from tests.importing.helpers import (
    SERVER,
    builtin_templates,
    codes,
    load,
    parse_bytes,
    sample,
)


def by_login(result):  # type: ignore[no-untyped-def]
    return {row.settings.login: row for row in result.rows}


def test_freepbx_export() -> None:
    result = load(sample("freepbx_extensions.csv"), server=SERVER, templates=builtin_templates())
    assert result.format == FREEPBX
    rows = by_login(result)
    assert sorted(rows) == ["2001", "2002", "2003", "2004", "2005"]
    assert rows["2002"].settings.password.reveal() == "pa,ss;word"
    assert rows["2003"].settings.password.reveal() == 'say "cheese"'
    assert rows["2003"].settings.display_name == 'Boris "Bob" Ivanov'
    # PJSIP extensions take the freepbx template (5060; 5061 for TLS), chan_sip ones 5160
    assert (rows["2001"].settings.transport, rows["2001"].settings.port) == ("udp", 5060)
    assert (rows["2003"].settings.transport, rows["2003"].settings.port) == ("tls", 5061)
    assert (rows["2004"].settings.port, rows["2004"].template) == (5160, "freepbx-chan-sip")
    assert rows["2005"].settings.transport == "tcp"
    assert rows["2001"].settings.domain == SERVER
    assert rows["2001"].settings.expires == 3600
    assert rows["2001"].line == 2
    assert codes(result) == [
        (7, "import.unsupported_tech"),
        (8, "import.unsupported_tech"),
        (9, "import.missing_password"),
    ]
    assert result.issues[0].params["tech"] == "virtual"


def test_freepbx_server_port_wins_over_the_template() -> None:
    result = load(
        sample("freepbx_extensions.csv"), server=f"{SERVER}:5070", templates=builtin_templates()
    )
    assert {row.settings.port for row in result.rows} == {5070}


def test_freepbx_export_needs_the_server() -> None:
    result = parse_bytes(sample("freepbx_extensions.csv"))
    assert codes(result) == [(None, "import.server_required")]
    assert result.refused and not result.rows


def test_freepbx_uppercase_header_and_chan_sip_transport_list() -> None:
    data = (
        b"EXTENSION,PASSWORD,NAME,TECH,DIAL,SECRET,TRANSPORT\n"
        b'300,,"Desk 300",sip,SIP/300,s3cret,"udp,tcp,tls"\n'
    )
    result = load(data, server=SERVER)
    assert result.format == FREEPBX
    (row,) = result.rows
    assert (row.settings.login, row.settings.transport) == ("300", "udp")
    assert row.settings.password.reveal() == "s3cret"


def test_pjsip_conf_with_templates() -> None:
    result = load(sample("pjsip.conf"), server=SERVER, templates=builtin_templates())
    assert result.format == PJSIP
    rows = by_login(result)
    assert sorted(rows) == ["6001", "6002", "6003"]
    alice, bob, tls = rows["6001"].settings, rows["6002"].settings, rows["6003"].settings
    # "al1ce;pass": the ; starts a comment, as Asterisk reads it
    assert alice.password.reveal() == "al1ce"
    assert alice.display_name == "Alice Smith"
    assert (alice.transport, alice.port) == ("udp", 5062)  # the transport's bind port
    assert bob.password.reveal() == "b0b;with;semicolons"
    assert bob.auth_username == "bob-phone"
    assert bob.display_name == "Bob Jones"
    # a template inheriting a template: [endpoint-secure](!,endpoint-basic)
    assert (tls.transport, tls.port) == ("tls", 5063)
    assert tls.password.reveal() == 't1s-only "quoted"'
    assert alice.expires == 3600  # the asterisk template
    assert rows["6001"].line == 44
    assert codes(result) == [(81, "import.hashed_password")]
    assert [(n.code, n.params["section"]) for n in result.notes] == [
        ("import.note.trunk_skipped", "itsp")
    ]


def test_pjsip_server_port_given_wins_over_bind() -> None:
    result = load(sample("pjsip.conf"), server=f"{SERVER}:5080")
    assert {row.settings.port for row in result.rows} == {5080}


def test_pjsip_endpoint_without_auth_or_aor() -> None:
    data = b"""[7001]
type=endpoint
aors=7001

[7001]
type=aor

[7002]
type=endpoint
auth=7002

[7002]
type=auth
password=x
"""
    result = load(data, server=SERVER)
    assert codes(result) == [(1, "import.no_auth"), (8, "import.no_aor")]


def test_pjsip_unknown_parent_and_bad_syntax() -> None:
    data = b"""[6001](no-such-template)
type=endpoint
auth=6001
aors=6001
this line is not a setting
[6001]
type=auth
password=p
[6001]
type=aor
"""
    result = load(data, server=SERVER)
    assert codes(result) == [(1, "import.unknown_parent"), (5, "import.bad_syntax")]
    assert not result.rows


@pytest.mark.parametrize("directive", ["#include extensions_custom.conf", "#exec /bin/ls"])
def test_include_is_refused(directive: str) -> None:
    data = f"[general]\n{directive}\n[6001]\ntype=endpoint\n".encode()
    result = parse_bytes(data, server_given=True)
    assert codes(result) == [(2, "import.include_refused")]
    assert result.refused and not result.rows
    assert "#" + directive.split()[0][1:] in result.issues[0].message


def test_block_comment_and_additions() -> None:
    data = b"""[ep](!)
type=endpoint
;-- a block comment
[6009]
type=endpoint
--;
aors=6009
[6009](ep)
auth=6009
aors=6009
[6009](+)
callerid="Added Later" <6009>
[6009]
type=auth
password=abc
[6009]
type=aor
"""
    result = load(data, server=SERVER)
    (row,) = result.rows
    assert row.settings.display_name == "Added Later"
    assert row.line == 8


def test_sip_conf_peers() -> None:
    result = load(sample("sip.conf"), server=SERVER, templates=builtin_templates())
    assert result.format == SIP_CONF
    rows = by_login(result)
    assert sorted(rows) == ["101", "102", "103", "105"]
    assert rows["101"].settings.display_name == "Front Desk"
    assert rows["101"].settings.port == 5160  # [general] bindport
    assert rows["102"].settings.password.reveal() == 'pa,ss"word'
    assert rows["102"].settings.auth_username == "frontdesk2"  # defaultuser
    assert rows["102"].settings.display_name == "Second Desk"  # fullname
    assert (rows["103"].settings.transport, rows["103"].settings.port) == ("tls", 5161)
    assert rows["103"].settings.auth_username is None  # username equal to the name
    assert rows["105"].settings.password.reveal() == "peer105"
    assert codes(result) == [(35, "import.hashed_password")]
    assert [(n.code, n.params["section"]) for n in result.notes] == [
        ("import.note.trunk_skipped", "provider"),
        ("import.note.not_registering", "inbound-only"),
    ]


def test_conf_without_types_uses_the_file_name() -> None:
    data = b"[general]\nbindport=5060\n"
    assert codes(parse_bytes(data, server_given=True)) == [(None, "import.unknown_format")]
    assert parse_bytes(data, server_given=True, filename="sip.conf").format == SIP_CONF
    result = parse_bytes(data, server_given=True, filename="sip.conf")
    assert codes(result) == [(None, "import.no_accounts")]


def test_conf_needs_the_server() -> None:
    assert codes(parse_bytes(sample("sip.conf"))) == [(None, "import.server_required")]


# ---- telesip's CSV ----


def test_plain_csv_semicolons_quotes_and_all_columns() -> None:
    data = (
        b"login;password;server;port;transport;registrar;proxy;auth_user;display_name;template;"
        b"telegram\n"
        b'101;"pa;ss";sip.example.com;5070;TCP;reg.example.com;proxy.example.com;auth101;'
        b"Alice;;123456789\n"
        b'102;"say ""hi"", ok";sip.example.com;;;;;;;;@Bob_Smith\n'
        b"103;it's\"plain;sip.example.com;;;;;;;;\n"
    )
    result = load(data)
    assert result.format == CSV and not result.issues
    first, second, third = result.rows
    s = first.settings
    assert s.password.reveal() == "pa;ss"
    assert (s.domain, s.port, s.transport) == ("sip.example.com", 5070, "tcp")
    assert (s.registrar, s.outbound_proxy, s.auth_username) == (
        "reg.example.com",
        "proxy.example.com",
        "auth101",
    )
    assert (s.display_name, first.telegram) == ("Alice", 123456789)
    assert second.settings.password.reveal() == 'say "hi", ok'
    assert second.telegram == "@bob_smith"
    assert third.settings.password.reveal() == "it's\"plain"
    assert [r.line for r in result.rows] == [2, 3, 4]


def test_plain_csv_commas_aliases_and_ignored_columns() -> None:
    data = b'User,Secret,Host,Notes\n201,"a,b",pbx.example.com,desk\n'
    result = load(data)
    (row,) = result.rows
    assert (row.settings.login, row.settings.password.reveal()) == ("201", "a,b")
    assert [(n.code, n.params) for n in result.notes] == [
        ("import.note.ignored_columns", {"columns": "notes"})
    ]


def test_plain_csv_tab_and_excel_sep_line() -> None:
    tab = load(b"login\tpassword\tserver\n1\tp w\tpbx.example.com\n")
    assert tab.rows[0].settings.password.reveal() == "p w"
    sep = load(b"sep=;\r\nlogin;password;server\r\n1;x,y;pbx.example.com\r\n")
    assert sep.rows[0].settings.password.reveal() == "x,y"
    assert sep.rows[0].line == 3


def test_plain_csv_password_keeps_its_spaces() -> None:
    result = load(b'login,password,server\n1," two  spaces ",pbx.example.com\n')
    assert result.rows[0].settings.password.reveal() == " two  spaces "


def test_plain_csv_unquoted_separator_in_password() -> None:
    data = b"login;password;server\n1;pa;ss;pbx.example.com\n2;ok;pbx.example.com\n"
    result = load(data)
    assert codes(result) == [(2, "import.field_count")]
    assert result.issues[0].params == {"found": 4, "expected": 3, "delimiter": ";"}
    assert "pa" not in result.issues[0].message.replace("separator", "")
    assert [r.settings.login for r in result.rows] == ["2"]


def test_plain_csv_unclosed_quote_refuses_the_file() -> None:
    result = load(b'login,password,server\n1,"open,pbx.example.com\n2,x,pbx.example.com\n')
    assert codes(result) == [(2, "import.bad_quoting")]
    assert result.refused


def test_plain_csv_multiline_quoted_value_keeps_line_numbers() -> None:
    data = (
        b"login,password,server,display_name\n"
        b'1,x,pbx.example.com,"two\nlines"\n'
        b"2,y,pbx.example.com,\n"
    )
    result = load(data)
    assert codes(result) == [(2, "import.multiline_value")]
    assert result.issues[0].params["column"] == "display_name"
    assert [r.line for r in result.rows] == [4]


def test_plain_csv_missing_columns() -> None:
    assert codes(load(b"login,server\n1,pbx\n")) == [(None, "import.unknown_format")]
    result = load(b"login,password\n1,x\n")
    assert codes(result) == [(None, "import.missing_columns")]
    assert result.issues[0].params == {"columns": "server"}
    assert load(b"login,password\n1,x\n", server=SERVER).rows[0].settings.domain == SERVER


def test_plain_csv_server_given_is_a_default_only() -> None:
    data = b"login,password,server,port\n1,x,,\n2,y,other.example.com,\n3,z,,5099\n"
    result = load(data, server=f"{SERVER}:5070")
    assert [(r.settings.domain, r.settings.port) for r in result.rows] == [
        (SERVER, 5070),
        ("other.example.com", None),
        (SERVER, 5099),
    ]


def test_header_only_and_blank_rows() -> None:
    assert codes(load(b"login,password,server\n\n,,\n")) == [(None, "import.no_accounts")]


def test_not_a_known_format() -> None:
    assert codes(parse_bytes(b"hello world\nthis is a letter\n")) == [
        (None, "import.unknown_format")
    ]


def test_pjsip_websocket_transport_is_refused_for_that_row() -> None:
    data = b"""[transport-wss]
type=transport
protocol=wss
bind=0.0.0.0:8089
[webrtc]
type=endpoint
transport=transport-wss
auth=webrtc
aors=webrtc
[webrtc]
type=auth
password=w
[webrtc]
type=aor
"""
    assert codes(load(data, server=SERVER)) == [(5, "import.bad_transport")]


def test_freepbx_export_resaved_by_excel_with_semicolons() -> None:
    data = b"extension;name;tech;secret\n400;Desk;pjsip;a,b\n"
    result = load(data, server=SERVER)
    assert result.format == FREEPBX
    assert result.rows[0].settings.password.reveal() == "a,b"
