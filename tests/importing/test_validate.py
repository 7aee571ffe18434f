"""Rows checked by the domain's own account rules, each failure a stable code with its line,
and no password in any issue text or repr."""

from __future__ import annotations

import ast
import string
import sys
from pathlib import Path

import pytest

from telesip.importing import ServerDefaults
from telesip.importing.issues import MESSAGES, Issue, issue
from tests.importing.helpers import SERVER, builtin_templates, codes, load, sample

HEADER = b"login;password;server;port;transport;registrar;proxy;auth_user;display_name;template;telegram\n"  # noqa: E501
SECRET = "Sup3r;Secret,pw"


def one(cells: str) -> list[tuple[int | None, str]]:
    line = cells.replace("PW", f'"{SECRET}"')
    result = load(HEADER + line.encode() + b"\n", templates=builtin_templates())
    for found in result.issues:
        assert SECRET not in found.message and SECRET not in repr(found)
    return codes(result)


def test_a_password_slipped_into_another_column_is_not_quoted_back() -> None:
    # an unquoted ';' in a password moved its second half into the server column
    result = load(HEADER + b"101;Sup3r;w0rd!x;;;;;;;;\n")
    assert codes(result) == [(2, "import.bad_server")]
    assert "w0rd" not in result.issues[0].message and "w0rd" not in repr(result.issues[0])


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        (";PW;pbx.example.com;;;;;;;;", "import.missing_login"),
        ("101;;pbx.example.com;;;;;;;;", "import.missing_password"),
        ("101;PW;;;;;;;;;", "import.missing_server"),
        ("bad login;PW;pbx.example.com;;;;;;;;", "import.bad_login"),
        ("101;PW;-bad-.example;;;;;;;;", "import.bad_server"),
        ("101;PW;pbx.example.com;abc;;;;;;;", "import.bad_port"),
        ("101;PW;pbx.example.com;70000;;;;;;;", "import.bad_port"),
        ("101;PW;pbx.example.com;0;;;;;;;", "import.bad_port"),
        ("101;PW;pbx.example.com;;ws;;;;;;", "import.bad_transport"),
        ("101;PW;pbx.example.com;;;bad host;;;;;", "import.bad_registrar"),
        ("101;PW;pbx.example.com;;;;bad host;;;;", "import.bad_proxy"),
        ("101;PW;pbx.example.com;;;;;" + "a" * 129 + ";;;", "import.bad_auth_user"),
        ("101;PW;pbx.example.com;;;;;;" + "n" * 65 + ";;", "import.bad_display_name"),
        ("101;PW;pbx.example.com;;;;;;;nosuch;", "import.unknown_template"),
        ("101;PW;pbx.example.com;;;;;;;;bob", "import.bad_telegram_user"),
        ("101;PW;pbx.example.com;;;;;;;;-5", "import.bad_telegram_user"),
        ("101;" + "p" * 129 + ";pbx.example.com;;;;;;;;", "import.bad_password"),
    ],
)
def test_each_bad_value_has_its_code(cells: str, code: str) -> None:
    assert one(cells) == [(2, code)]


def test_a_good_row_has_no_issue() -> None:
    assert one("101;PW;pbx.example.com;5060;udp;;;;Desk;asterisk;42") == []


def test_issue_repr_and_message_never_show_the_row_text() -> None:
    found = issue("import.bad_port", 3, login="101")
    assert found.message == "Line 3: the port of 101 is not a number from 1 to 65535."
    assert isinstance(found, Issue) and found.code == "import.bad_port"
    with pytest.raises(ValueError):
        issue("import.no_such_code")


def test_every_message_formats_with_the_params_it_names() -> None:
    # catalogs key on the codes and take the same params: each English text must format
    for code, text in MESSAGES.items():
        assert code.startswith("import."), code
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
        params = {name: "v" for name in names - {"line"}}
        found = issue(code, 7, **params)
        assert "{" not in found.message, code


def test_parsed_rows_hide_the_password() -> None:
    result = load(HEADER + f'101;"{SECRET}";pbx.example.com;;;;;;;;\n'.encode())
    assert SECRET not in repr(result)


def test_templates_fill_what_the_row_leaves_out() -> None:
    templates = {
        "office": ServerDefaults(
            domain="tmpl.example.com",
            transport="tcp",
            port=5080,
            tls_port=5081,
            expires=600,
            dtmf_mode="info",
            registrar="reg.example.com",
        )
    }
    data = (
        HEADER
        + b"1;x;;;;;;;;office;\n2;y;;;tls;;;;;office;\n3;z;own.example.com;5999;;;;;;office;\n"
    )
    result = load(data, templates=templates)
    first, second, third = (r.settings for r in result.rows)
    assert (first.domain, first.transport, first.port) == ("tmpl.example.com", "tcp", 5080)
    assert (first.expires, first.dtmf_mode, first.registrar) == (600, "info", "reg.example.com")
    assert (second.transport, second.port) == ("tls", 5081)
    assert (third.domain, third.port) == ("own.example.com", 5999)
    assert result.rows[0].stated == {"transport", "registrar", "expires", "dtmf_mode"}


def test_templates_not_given_are_carried_unresolved() -> None:
    result = load(HEADER + b"1;x;pbx.example.com;;;;;;;anything;\n")
    assert result.rows[0].template == "anything"


@pytest.mark.parametrize("server", ["bad host", "pbx.example.com:99999", "pbx:port", "-x-"])
def test_bad_server_given_with_the_file(server: str) -> None:
    result = load(HEADER + b"1;x;;;;;;;;;\n", server=server)
    assert codes(result) == [(None, "import.bad_default_server")]
    assert result.refused


def test_server_given_may_be_an_ipv6_literal_with_a_port() -> None:
    result = load(HEADER + b"1;x;;;;;;;;;\n", server="[2001:db8::1]:5070")
    assert (result.rows[0].settings.domain, result.rows[0].settings.port) == ("[2001:db8::1]", 5070)


def test_server_given_is_normalised() -> None:
    result = load(HEADER + b"1;x;;;;;;;;;\n", server="PBX.Office.Example")
    assert result.rows[0].settings.domain == SERVER


def test_the_package_imports_only_the_domain_and_the_standard_library() -> None:
    package = Path(__file__).resolve().parents[2] / "src" / "telesip" / "importing"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                allowed = name.startswith(("telesip.domain", "telesip.importing"))
                assert allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("@Anna_P", "@anna_p"), ("@abcde", "@abcde"), ("@abcd", None), ("0", None)],
)
def test_telegram_user_forms(value: str, expected: int | str | None) -> None:
    result = load(HEADER + f"1;x;pbx.example.com;;;;;;;;{value}\n".encode())
    if expected is None:
        assert codes(result) == [(2, "import.bad_telegram_user")]
    else:
        assert result.rows[0].telegram == expected


def test_a_pbx_formats_template_missing_from_the_catalog_is_passed_over() -> None:
    result = load(sample("freepbx_extensions.csv"), server=SERVER, templates={})
    assert len(result.rows) == 5
    assert {r.settings.port for r in result.rows} == {None}
