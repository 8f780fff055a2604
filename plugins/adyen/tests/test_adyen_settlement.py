"""Adyen's Settlement details report: normalized lines, arithmetic, refusals."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.reconciliation.lines import LINE_SCHEMA, SettlementLine, frame_lines
from paymux.core.reconciliation.lines import SettlementLineType as T
from paymux.core.reconciliation.parsers import HEAD_BYTES, check_batch, choose_parser
from paymux_adyen import plugin, settlement
from paymux_adyen.settlement import (
    BOOKING_DATE,
    FEE_COLUMNS,
    REQUIRED_COLUMNS,
    AdyenSettlementParser,
    _checked_lines,
    _read,
)
from paymux_adyen.settlement_fixtures import (
    STANDARD_COLUMNS,
    synthetic_rows,
    write_settlement_report,
)

FIXTURE = Path(__file__).parent / "fixtures" / "settlement_detail_report_batch_42.csv"
HEADER = FIXTURE.read_text().splitlines()[0]
PARSER = AdyenSettlementParser()


def parse(path: Path, parser: AdyenSettlementParser = PARSER) -> pl.DataFrame:
    batches = [check_batch(batch, "adyen") for batch in parser.parse(path)]
    return pl.concat(batches) if batches else pl.DataFrame(schema=LINE_SCHEMA)


def report(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "settlement_detail_report_batch_7.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def row(**values: str) -> str:
    """A line of the fixture's header: a Settled EUR line of 10.00 (fee 0.30) by default."""
    defaults = {
        "Merchant Account": "PaymuxMarketplaceECOM",
        "Batch Number": "7",
        "Type": "Settled",
        "Psp Reference": "8815000000000009",
        "Merchant Reference": "pay_x",
        "Modification Reference": "8815000000000109",
        "Creation Date": "2024-05-02 10:00:00",
        "Gross Currency": "EUR",
        "Gross Credit (GC)": "10.00",
        "Net Currency": "EUR",
        "Net Credit (NC)": "9.70",
        "Commission (NC)": "0.30",
    }
    merged = {**defaults, **values}
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(merged.get(n, "") for n in HEADER.split(","))
    return out.getvalue()


def line(
    number: int, kind: T, psp: str, gross: int, fee: int, net: int, **rest: object
) -> SettlementLine:
    fields: dict[str, object] = {
        "currency": "EUR",
        "booking_date": date(2024, 5, 2),
        "payout_batch": "42",
        **rest,
    }
    return SettlementLine(
        provider="adyen",
        line_number=number,
        type=kind,
        psp_reference=psp,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=net,
        **fields,  # type: ignore[arg-type]
    )


def test_the_fixture_becomes_exact_lines() -> None:
    lines = frame_lines(parse(FIXTURE))
    assert lines == [
        line(2, T.CAPTURE, "8815000000000001", 10000, 250, 9750,
             merchant_reference="pay_aaa", modification_reference="8815000000000101",
             line_reference="8815000000000101"),
        line(3, T.REFUND, "8815000000000001", -4000, 12, -4012,
             booking_date=date(2024, 5, 3), merchant_reference="pay_aaa",
             modification_reference="8815000000000201", line_reference="8815000000000201"),
        line(4, T.CHARGEBACK, "8815000000000002", -2500, 200, -2700,
             merchant_reference="pay_bbb", modification_reference="8815000000000301",
             line_reference="8815000000000301"),
        line(5, T.CHARGEBACK_REVERSAL, "8815000000000002", 2500, 0, 2500,
             merchant_reference="pay_bbb", modification_reference="8815000000000302",
             line_reference="8815000000000302"),
        line(6, T.CAPTURE, "8815000000000003", 1500, 25, 890, currency="JPY",
             settlement_currency="EUR", merchant_reference="pay_ccc",
             modification_reference="8815000000000103", line_reference="8815000000000103"),
        line(7, T.FEE, "Transaction Fees May 2024", 0, 500, -500,
             modification_reference="Transaction Fees May 2024", line_reference="batch:42:line:7"),
        line(8, T.ADJUSTMENT, "batch:42", 1000, 0, 1000, line_reference="batch:42:line:8"),
        line(9, T.PAYOUT, "TX4242424242XT", -100000, 0, -100000,
             modification_reference="TX4242424242XT", line_reference="batch:42:line:9"),
    ]  # fmt: skip


def test_the_parser_is_registered_by_the_plugin() -> None:
    (parser,) = plugin.paymux_add_settlement_parsers()
    assert isinstance(parser, AdyenSettlementParser)
    assert (parser.provider, parser.format) == ("adyen", "adyen_settlement_detail")
    assert parser.settlement_delay == timedelta(days=3)


def test_accepts_the_report_by_its_header_names_only() -> None:
    assert PARSER.accepts(FIXTURE.read_bytes()[:HEAD_BYTES])
    assert PARSER.accepts(("\ufeff" + ",".join(STANDARD_COLUMNS) + "\n").encode())
    stripe = b"balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
    camt = b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
    aggregate = b"Company Account,Merchant Account,Batch Number,Journal Type,Gross Currency\n"
    for head in (stripe, camt, aggregate, b"", b"\xff\xfe\x00garbage"):
        assert not PARSER.accepts(head)


def test_a_file_in_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "balance.csv"
    path.write_text("balance_transaction_id,currency,gross,fee,net\ntxn_1,eur,1.00,0.10,0.90\n")
    with pytest.raises(WrongFormatError):
        choose_parser([PARSER], "adyen", path)
    assert choose_parser([PARSER], "adyen", FIXTURE) is PARSER


def test_a_missing_column_is_an_error_on_the_header(tmp_path: Path) -> None:
    header = HEADER.replace("Net Debit (NC),", "")
    rows = [",".join(r.split(",")[:16] + r.split(",")[17:]) for r in [row()]]
    with pytest.raises(MalformedSettlementError, match="Net Debit") as caught:
        parse(report(tmp_path, *rows, header=header))
    assert caught.value.line_number == 1


@pytest.mark.parametrize(
    ("values", "column"),
    [
        ({"Gross Credit (GC)": "12,34"}, "Gross Credit (GC) '12,34'"),
        ({"Net Credit (NC)": "9.705"}, "Net Credit (NC) '9.705'"),
        ({"Commission (NC)": "abc"}, "Commission (NC) 'abc'"),
        ({"Gross Credit (GC)": "1.2.3"}, "Gross Credit (GC) '1.2.3'"),
        ({"Gross Credit (GC)": " 10.00"}, "Gross Credit (GC) ' 10.00'"),
        ({"Gross Currency": "EURO"}, "no known currency"),
        ({"Gross Currency": "JPY", "Gross Credit (GC)": "10.5"}, "at most 0 decimals"),
        ({"Gross Credit (GC)": "1000000000000000.00"}, "too large"),
    ],
)
def test_a_malformed_amount_names_its_line(
    tmp_path: Path, values: dict[str, str], column: str
) -> None:
    path = report(tmp_path, row(), row(), row(**values), row())
    with pytest.raises(MalformedSettlementError, match=re.escape(column)) as caught:
        parse(path)
    assert caught.value.line_number == 4


def test_amounts_are_exact_whatever_their_size_and_sign(tmp_path: Path) -> None:
    path = report(
        tmp_path,
        row(**{"Gross Credit (GC)": "123456789012.34", "Net Credit (NC)": "123456789012.04"}),
        row(**{"Gross Credit (GC)": ".5", "Net Credit (NC)": "0.2"}),
        row(**{"Gross Credit (GC)": "3.", "Net Credit (NC)": "-1.30", "Commission (NC)": "4.3"}),
    )
    lines = parse(path)
    assert lines["gross_minor"].to_list() == [12345678901234, 50, 300]
    assert lines["net_minor"].to_list() == [12345678901204, 20, -130]
    assert lines["fee_minor"].to_list() == [30, 30, 430]


def test_a_net_that_is_not_gross_minus_fee_is_refused_by_the_check(tmp_path: Path) -> None:
    path = report(tmp_path, row(), row(**{"Net Credit (NC)": "9.80"}))
    with pytest.raises(MalformedSettlementError, match="net is not gross minus fee") as caught:
        parse(path)
    assert caught.value.line_number == 3


def test_extra_fee_columns_count_only_when_asked(tmp_path: Path) -> None:
    path = report(tmp_path, row(**{"Net Credit (NC)": "9.60", "Payment Fees (NC)": "0.10"}))
    with pytest.raises(MalformedSettlementError, match="net is not gross minus fee"):
        parse(path)
    parser = AdyenSettlementParser(extra_fee_columns=("Payment Fees (NC)",))
    (only,) = frame_lines(parse(path, parser))
    assert (only.gross_minor, only.fee_minor, only.net_minor) == (1000, 40, 960)


def test_blank_lines_are_skipped_and_numbers_stay_physical(tmp_path: Path) -> None:
    path = report(tmp_path, row(), "", row(**{"Psp Reference": "8815000000000010"}))
    lines = parse(path)
    assert lines["line_number"].to_list() == [2, 4]
    assert lines["psp_reference"].to_list() == ["8815000000000009", "8815000000000010"]


def test_a_header_only_report_has_no_lines(tmp_path: Path) -> None:
    assert parse(report(tmp_path)).height == 0


def test_a_bad_date_names_its_line(tmp_path: Path) -> None:
    path = report(tmp_path, row(), row(**{"Creation Date": "02/05/2024 10:00"}))
    with pytest.raises(MalformedSettlementError, match="Creation Date '02/05/2024") as caught:
        parse(path)
    assert caught.value.line_number == 3


def test_a_line_shifted_by_an_unquoted_comma_names_its_line(tmp_path: Path) -> None:
    shifted = row().replace("pay_x", "pay,x")
    path = report(tmp_path, row(), row(), shifted)
    with pytest.raises(MalformedSettlementError) as caught:
        parse(path)
    assert caught.value.line_number == 4


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = report(tmp_path, row())
    path.write_bytes(path.read_bytes() + b"\xff\xfe,\xff\n")
    with pytest.raises(MalformedSettlementError, match="cannot be read") as caught:
        parse(path)
    assert caught.value.line_number == 0  # the file as a whole


def test_quoted_fields_and_quoted_empties(tmp_path: Path) -> None:
    fields = row().split(",")
    fields[HEADER.split(",").index("Booking Date")] = '""'
    fields[HEADER.split(",").index("Merchant Reference")] = '"pay,x"'
    path = report(tmp_path, ",".join(fields))
    (only,) = frame_lines(parse(path))
    assert only.merchant_reference == "pay,x"
    assert only.booking_date == date(2024, 5, 2)  # an empty Booking Date: Creation Date


def test_generated_reports_parse_and_balance(tmp_path: Path) -> None:
    path = tmp_path / "settlement_detail_report_batch_1.csv"
    written = write_settlement_report(path, synthetic_rows(1000, currency="EUR"))
    assert written == 1000
    assert PARSER.accepts(path.read_bytes()[:HEAD_BYTES])
    lines = parse(path)
    assert lines.height == 1000
    assert lines["line_number"].to_list() == list(range(2, 1002))
    counts = dict(lines.group_by("type").len().iter_rows())
    assert counts == {"capture": 899, "refund": 99, "fee": 1, "payout": 1}
    assert lines["net_minor"].sum() == 0  # the payout pays out the whole batch
    first = lines.row(0, named=True)
    assert (first["psp_reference"], first["merchant_reference"]) == ("0000000000000000", "pay_0")


def test_generated_reports_take_columns_and_a_header_order(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    columns = tuple(reversed(STANDARD_COLUMNS))
    write_settlement_report(
        path,
        {
            "psp_reference": ["A1", "A2", "A3"],
            "merchant_reference": ["pay_1", "pay_2", "pay_3"],
            "amount_minor": [1234, 5, 700],
            "commission_minor": [10, 0, 7],
            "type": ["Settled", "Refunded", "Chargeback"],
            "currency": "JPY",
        },
        columns=columns,
        batch_number=9,
    )
    assert path.read_text().splitlines()[0] == ",".join(columns)
    lines = frame_lines(parse(path))
    assert [(x.type, x.gross_minor, x.fee_minor, x.net_minor) for x in lines] == [
        (T.CAPTURE, 1234, 10, 1224),
        (T.REFUND, -5, 0, -5),
        (T.CHARGEBACK, -700, 7, -707),
    ]
    assert {x.currency for x in lines} == {"JPY"}
    assert {x.payout_batch for x in lines} == {"9"}


def test_the_fast_and_the_checked_path_agree(tmp_path: Path) -> None:
    columns = [*REQUIRED_COLUMNS, *FEE_COLUMNS, BOOKING_DATE]
    checked = _checked_lines(_read(FIXTURE, columns), list(FEE_COLUMNS), booking_date=True)
    assert parse(FIXTURE).equals(checked)


def test_a_withdrawn_currency_is_read_on_the_checked_path(tmp_path: Path) -> None:
    values = {"Gross Currency": "HRK", "Net Currency": "HRK"}
    (only,) = frame_lines(parse(report(tmp_path, row(**values))))
    assert (only.currency, only.gross_minor, only.net_minor) == ("HRK", 1000, 970)


def test_a_large_clean_file_is_read_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row(**{"Psp Reference": f"88150000000{i:05d}", "Gross Credit (GC)": f"{i}.00",
                   "Net Credit (NC)": f"{i - 1}.70"}) for i in range(1, 40)]  # fmt: skip
    path = report(tmp_path, *rows)
    checked: list[Path] = []

    def read(path: Path, columns: list[str]) -> pl.DataFrame:
        checked.append(path)
        return _read(path, columns)

    monkeypatch.setattr(settlement, "_read", read)
    lines = parse(path)
    assert checked == []  # read in pieces, no line looked at twice
    assert lines["line_number"].to_list() == list(range(2, 41))
    assert lines["gross_minor"].to_list() == [i * 100 for i in range(1, 40)]
    columns = [*REQUIRED_COLUMNS, *FEE_COLUMNS, BOOKING_DATE]
    assert lines.equals(_checked_lines(_read(path, columns), list(FEE_COLUMNS), booking_date=True))


@pytest.mark.parametrize(
    "bad",
    [{"Gross Credit (GC)": "1.2.3"}, {"Gross Credit (GC)": "10.001"}, {"Creation Date": "x"},
     {"Gross Currency": "XXY"}],
)  # fmt: skip
def test_a_bad_line_anywhere_names_its_line(tmp_path: Path, bad: dict[str, str]) -> None:
    rows = [row() for _ in range(30)]
    rows[25] = row(**bad)
    path = report(tmp_path, *rows)
    with pytest.raises(MalformedSettlementError) as caught:
        parse(path)
    assert caught.value.line_number == 27


def test_a_quoted_field_across_lines_is_read_on_the_checked_path(tmp_path: Path) -> None:
    rows = [row(**{"Psp Reference": f"88150000000{i:05d}"}) for i in range(1, 30)]
    fields = rows[14].split(",")
    fields[HEADER.split(",").index("Merchant Reference")] = '"order\nwith a line break"'
    rows[14] = ",".join(fields)
    path = report(tmp_path, *rows)
    assert settlement._fast_lines(path, [*REQUIRED_COLUMNS, *FEE_COLUMNS], list(FEE_COLUMNS),
                                  1 << 20, booking_date=False) is None  # fmt: skip
    whole = parse(path)
    assert whole.height == 29
    assert "order\nwith a line break" in whole["merchant_reference"].to_list()
    for size in (300, 500, 700, 1100):  # wherever the pieces would be cut
        assert parse(path, AdyenSettlementParser(chunk_bytes=size)).equals(whole)


def test_quoted_fields_on_one_line_are_read_on_the_fast_path(tmp_path: Path) -> None:
    rows = []
    for i in range(1, 40):
        fields = row(**{"Psp Reference": f"88150000000{i:05d}"}).split(",")
        fields[HEADER.split(",").index("Booking Date")] = '""'  # as polars writes empties
        fields[HEADER.split(",").index("Merchant Reference")] = f'"pay,{i} ""x"""'
        rows.append(",".join(fields))
    path = report(tmp_path, *rows)
    columns = [*REQUIRED_COLUMNS, *FEE_COLUMNS, BOOKING_DATE]
    fast = settlement._fast_lines(path, columns, list(FEE_COLUMNS), 700, booking_date=True)
    assert fast is not None
    assert len(fast) > 3  # the pieces, not one read of the whole file
    lines = pl.concat(fast)
    assert lines.equals(parse(path, AdyenSettlementParser(chunk_bytes=1 << 30)))
    assert lines["line_number"].to_list() == list(range(2, 41))
    assert lines["merchant_reference"][0] == 'pay,1 "x"'


def test_a_file_read_in_pieces_gives_the_same_lines_and_line_numbers(tmp_path: Path) -> None:
    rows = [row(**{"Psp Reference": f"88150000000{i:05d}", "Gross Credit (GC)": f"{i}.00",
                   "Net Credit (NC)": f"{i - 1}.70"}) for i in range(1, 40)]  # fmt: skip
    path = report(tmp_path, *rows)
    small = AdyenSettlementParser(chunk_bytes=700)  # a few lines per piece
    assert len(list(small.parse(path))) > 3
    assert parse(path, small).equals(parse(path))
    assert parse(path, small)["line_number"].to_list() == list(range(2, 41))


def test_a_bad_line_in_a_later_piece_names_its_line(tmp_path: Path) -> None:
    rows = [row() for _ in range(30)]
    rows[25] = row(**{"Gross Credit (GC)": "1.2.3"})
    path = report(tmp_path, *rows)
    with pytest.raises(MalformedSettlementError) as caught:
        parse(path, AdyenSettlementParser(chunk_bytes=500))
    assert caught.value.line_number == 27


def test_a_stray_quote_is_judged_on_the_whole_file(tmp_path: Path) -> None:
    rows = [row(**{"Psp Reference": f"88150000000{i:05d}"}) for i in range(1, 30)]
    rows[3] = rows[3].replace("pay_x", 'pay"x')  # an odd quote: pieces may cut a field
    path = report(tmp_path, *rows)
    with pytest.raises(MalformedSettlementError) as whole:
        parse(path, AdyenSettlementParser(chunk_bytes=1 << 30))
    with pytest.raises(MalformedSettlementError) as pieces:
        parse(path, AdyenSettlementParser(chunk_bytes=500))
    assert str(pieces.value) == str(whole.value)
