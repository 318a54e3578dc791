"""The hop panel: plan and words (no Qt), diagram geometry and colours, clicks, details, exports."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import html
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QMessageBox, QWidget

from mua.core import grade_text, leg_text
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role, Source, Trace, TraceStatus
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy
from mua.gui import hop_plan as hm
from mua.gui.hop_diagram import HopDiagram
from mua.gui.hop_panel import HopPanel
from mua.gui.theme import grade_colour
from mua.stack.demo import SCENARIOS, run_demo

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def tls(
    mode: TlsMode = TlsMode.IMPLICIT,
    by: VerifiedBy | None = VerifiedBy.PKI,
    version: str = "TLS1_3",
    verified: bool | None = None,
    peer_name: str | None = None,
) -> TlsFacts:
    """Encrypted; verified by `by` unless `verified` says otherwise."""
    verified = by is not None if verified is None else verified
    cipher = "TLS_AES_256_GCM_SHA384"
    return TlsFacts(True, mode, version, cipher, 256, verified, by, peer_name)


INTERNAL = TlsFacts.unknown()


def leg(
    a: Role,
    b: Role,
    protocol: Protocol,
    facts: TlsFacts,
    source: Source = Source.OBSERVED,
    *,
    hosts: tuple[str | None, str | None] = (None, None),
    **ports_and_note: object,
) -> Leg:
    ends = Endpoint(a, hosts[0]), Endpoint(b, hosts[1])
    return Leg(*ends, protocol, facts, source, **ports_and_note)  # type: ignore[arg-type]


def demo_like(relay: TlsFacts, submission: TlsFacts | None = None) -> Trace:
    sub = submission or tls(peer_name="smtp.a.test")
    return Trace(
        TraceStatus.DELIVERED,
        [
            leg(
                Role.MUA,
                Role.MSA,
                Protocol.SUBMISSION,
                sub,
                port_role=465,
                port_actual=10465,
                hosts=("laptop", "smtp.a.test"),
            ),
            leg(Role.MSA, Role.MTA, Protocol.INTERNAL, INTERNAL, hosts=("smtp.a.test",) * 2),
            leg(
                Role.MTA,
                Role.MX,
                Protocol.SMTP,
                relay,
                port_role=25,
                port_actual=10025,
                hosts=("smtp.a.test", "mx.b.test"),
            ),
            leg(Role.MX, Role.MDA, Protocol.INTERNAL, INTERNAL, hosts=("mx.b.test",) * 2),
            leg(Role.MDA, Role.MS, Protocol.INTERNAL, INTERNAL, hosts=("mx.b.test",) * 2),
            leg(
                Role.MS,
                Role.MUA,
                Protocol.IMAP,
                tls(),
                port_role=993,
                port_actual=20993,
                hosts=("imap.b.test", "laptop"),
            ),
        ],
        subject="Lunch?",
        message_id="<1@a.test>",
    )


def all_grades() -> Trace:
    """One leg per grade, and every source."""
    return Trace(
        TraceStatus.PARSED,
        [
            leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, tls(), Source.CLAIMED, port_role=465),
            leg(Role.MSA, Role.MTA, Protocol.INTERNAL, INTERNAL, Source.CLAIMED),
            leg(Role.MTA, Role.MX, Protocol.SMTP, tls(TlsMode.STARTTLS, None), Source.RECORDED),
            leg(
                Role.MX,
                Role.MDA,
                Protocol.LMTP,
                TlsFacts.cleartext(),
                Source.RECORDED,
                hosts=("mx.b.test", "store.b.test"),
            ),
            leg(
                Role.MDA,
                Role.MS,
                Protocol.LMTP,
                INTERNAL,
                Source.RECORDED,
                hosts=("store.b.test", "ms.b.test"),
            ),
            leg(Role.MS, Role.MUA, Protocol.IMAP, tls(), Source.OBSERVED, port_role=993),
        ],
    )


def nine_legs() -> Trace:
    """What Received headers of a big provider look like: relays inside, a missing handoff."""
    relay = tls(TlsMode.STARTTLS, None, "TLSv1.2")
    hops = [
        leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, tls(TlsMode.UNKNOWN), Source.CLAIMED),
        leg(Role.MTA, Role.MTA, Protocol.SMTP, relay, Source.CLAIMED, hosts=("out1", "out2")),
        leg(Role.MTA, Role.MTA, Protocol.SMTP, TlsFacts.unknown(), Source.CLAIMED),
        leg(Role.MTA, Role.MX, Protocol.SMTP, relay, Source.RECORDED, hosts=("out2", "mx1")),
        leg(
            Role.MX, Role.MX, Protocol.SMTP, tls(TlsMode.STARTTLS, VerifiedBy.DANE), Source.RECORDED
        ),
        leg(Role.MX, Role.MX, Protocol.SMTP, TlsFacts.cleartext(), Source.RECORDED),
        leg(Role.MX, Role.MDA, Protocol.LMTP, INTERNAL, Source.RECORDED, hosts=("mx3", "mx3")),
        leg(Role.MDA, Role.MS, Protocol.INTERNAL, INTERNAL, Source.RECORDED),
        leg(
            Role.MS, Role.MUA, Protocol.IMAP, tls(), Source.OBSERVED, port_role=993, port_actual=993
        ),
    ]
    return Trace(TraceStatus.PARSED, hops, subject="Newsletter", message_id="<9@news>")


# -- the model, without Qt ------------------------------------------------------------------


def test_consecutive_legs_share_boxes() -> None:
    model = hm.HopDiagramPlan.from_trace(demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE)))
    assert [b.role for b in model.boxes] == [
        Role.MUA,
        Role.MSA,
        Role.MTA,
        Role.MX,
        Role.MDA,
        Role.MS,
        Role.MUA,
    ]
    assert [(a.start, a.end) for a in model.arrows] == [(i, i + 1) for i in range(6)]
    assert model.boxes[5].hosts == ("mx.b.test", "imap.b.test")
    assert not any(model.is_break(i) for i in range(7))


def test_a_missing_step_opens_a_new_box() -> None:
    model = hm.HopDiagramPlan.from_trace(nine_legs())
    assert len(model.arrows) == 9
    assert [b.role for b in model.boxes][:3] == [Role.MUA, Role.MSA, Role.MTA]
    assert model.is_break(1)  # MSA, then the next leg starts at an MTA
    assert model.arrows[1].start == 2
    layout = model.layout(hm.Metrics())
    assert len(layout.breaks) == 1
    xs = [x for x1, x2, _ in layout.arrows for x in (x1, x2)]
    assert xs == sorted(xs)  # left to right, no overlaps


def test_line_style_per_source_and_labels() -> None:
    arrows = hm.HopDiagramPlan.from_trace(all_grades()).arrows
    assert [a.style for a in arrows] == ["dotted", "dotted", "dashed", "dashed", "dashed", "solid"]
    assert [a.grade for a in arrows] == [
        Grade.GREEN,
        Grade.INTERNAL,
        Grade.AMBER,
        Grade.RED,
        Grade.UNKNOWN,
        Grade.GREEN,
    ]
    sub = hm.label_lines(demo_like(tls()).legs[0])
    assert sub == (
        "SMTP-submission",
        "port 465",
        "(here 10465)",
        "TLSv1.3 implicit",
        "verified (pki)",
    )
    assert arrows[0].label[-1] == "claimed"
    assert arrows[3].label == ("LMTP", "cleartext", "recorded")
    assert arrows[4].label[1] == "TLS unknown"


def test_ports_say_which_is_the_role_port_and_which_the_actual_one(panel: HopPanel) -> None:
    """'465 -> 10465' read as client -> server: the label and the details name both."""
    panel.set_trace(demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE)))
    labels = [a.label for a in panel.diagram.model().arrows]
    assert labels[0][1:3] == ("port 465", "(here 10465)")
    assert labels[2][1:3] == ("port 25", "(here 10025)")
    assert not any("\u2192" in line for label in labels for line in label)
    same = leg(Role.MS, Role.MUA, Protocol.IMAP, tls(), port_role=993, port_actual=993)
    assert hm.label_lines(same)[1:3] == ("port 993", "TLSv1.3 implicit")
    panel.show_leg(0)
    text = " ".join(panel.details.toPlainText().split())  # table cells: one line each
    assert "Role port 465 (the standard port for this leg)" in text
    assert "Actual port 10465 (where this server listens here)" in text


@pytest.mark.parametrize(
    ("leg_", "grade", "cited"),
    [
        (demo_like(tls()).legs[0], Grade.GREEN, ["RFC 8314"]),
        (
            leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, tls(TlsMode.STARTTLS)),
            Grade.AMBER,
            ["RFC 3207", "RFC 8314"],
        ),
        (
            leg(Role.MS, Role.MUA, Protocol.IMAP, tls(TlsMode.STARTTLS)),
            Grade.AMBER,
            ["RFC 2595", "RFC 8314", "993"],
        ),
        (
            leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, TlsFacts.cleartext()),
            Grade.RED,
            ["cleartext", "RFC 8314", "465"],
        ),
        (
            leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, tls(by=None, verified=False)),
            Grade.RED,
            ["failed verification", "RFC 8314"],
        ),
        (
            leg(Role.MTA, Role.MX, Protocol.SMTP, tls(TlsMode.STARTTLS, VerifiedBy.DANE)),
            Grade.GREEN,
            ["RFC 7672"],
        ),
        (
            leg(Role.MTA, Role.MX, Protocol.SMTP, tls(TlsMode.STARTTLS, VerifiedBy.MTA_STS)),
            Grade.GREEN,
            ["RFC 8461"],
        ),
        (
            leg(Role.MTA, Role.MX, Protocol.SMTP, tls(TlsMode.STARTTLS, None)),
            Grade.AMBER,
            ["RFC 3207", "strip", "RFC 7672", "RFC 8461", "RFC 8689"],
        ),
        (
            leg(Role.MTA, Role.MX, Protocol.SMTP, TlsFacts.cleartext()),
            Grade.RED,
            ["cleartext", "RFC 7672", "RFC 8461", "RFC 8689"],
        ),
        (leg(Role.MSA, Role.MTA, Protocol.INTERNAL, INTERNAL), Grade.INTERNAL, ["RFC 5598"]),
        (
            leg(Role.MTA, Role.MX, Protocol.SMTP, TlsFacts.unknown()),
            Grade.UNKNOWN,
            ["never guesses", "RFC 7672"],
        ),
    ],
)
def test_explanation_cites_the_right_rfc(leg_: Leg, grade: Grade, cited: list[str]) -> None:
    assert leg_.grade is grade
    text = grade_text.explain(leg_)
    for needle in cited:
        assert needle in text
    assert "green" in text.lower() or grade in (Grade.GREEN, Grade.INTERNAL)


def test_details_show_every_fact_and_tolerate_new_certificate_fields() -> None:
    @dataclass(frozen=True)
    class RicherTls(TlsFacts):
        issuer: str | None = None
        not_after: str | None = None

    facts = RicherTls(
        True,
        TlsMode.STARTTLS,
        "TLS1.2",
        "ECDHE-RSA-AES128-GCM-SHA256",
        128,
        True,
        VerifiedBy.DANE,
        "mx.b.test",
        issuer="Demo CA",
        not_after="2030-01-01",
    )
    trace = Trace(
        TraceStatus.DELIVERED,
        [leg(Role.MTA, Role.MX, Protocol.SMTP, facts, port_role=25, port_actual=10025, note="hi")],
    )
    text = leg_text.details_text(trace, 0)
    for needle in (
        "TLSv1.2",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "128",
        "STARTTLS",
        "dane",
        "10025",
        "Role port: 25",
        "observed",
        "mx.b.test",
        "Issuer: Demo CA",
        "2030-01-01",
        "Note: hi",
        "RFC 7672",
    ):
        assert needle in text


def test_why_table_covers_every_leg_of_the_design() -> None:
    assert [r.leg for r in grade_text.WHY_ROWS] == [
        "submission",
        "handoff",
        "relay",
        "delivery",
        "retrieval",
    ]
    assert (
        "465" in grade_text.WHY_ROWS[0].recommended and "587" in grade_text.WHY_ROWS[0].acceptable
    )
    assert (
        "993" in grade_text.WHY_ROWS[4].recommended and "143" in grade_text.WHY_ROWS[4].acceptable
    )
    assert "DANE" in grade_text.WHY_ROWS[2].recommended
    assert leg_text.summary(all_grades()).startswith("6 legs: 2 recommended, 1 acceptable")


# -- the widgets ----------------------------------------------------------------------------


def arrow_pixels_match(image: QImage, diagram: HopDiagram, index: int) -> bool:
    """Some pixel along the arrow's shaft has the arrow's grade colour."""
    line = diagram.arrow_line(index)
    want = diagram.arrow_colour(index)
    y = round(line.y1())
    for x in range(int(line.x1()) + 4, int(line.x2()) - 14):
        for dy in (-1, 0, 1):
            got = image.pixelColor(x, y + dy)
            if all(
                abs(a - b) <= 12 for a, b in zip(got.getRgb()[:3], want.getRgb()[:3], strict=True)
            ):
                return True
    return False


def check_diagram(qtbot, panel: HopPanel, trace: Trace) -> None:
    diagram = panel.diagram
    image = diagram.grab().toImage()
    assert image.width() >= diagram.minimumWidth()
    for i, leg_ in enumerate(trace.legs):
        assert diagram.arrow_colour(i) == grade_colour(leg_.grade)
        assert arrow_pixels_match(image, diagram, i), f"leg {i + 1} is not {leg_.grade}"
        label = diagram.model().arrows[i].label
        assert label[0] == leg_.protocol.value
        if leg_.port_role:
            assert any(str(leg_.port_role) in line for line in label)
        if leg_.tls.version:
            assert any(leg_.tls.version in line for line in label)
        with qtbot.waitSignal(diagram.legClicked, timeout=1000) as blocker:
            qtbot.mouseClick(
                diagram, Qt.MouseButton.LeftButton, pos=diagram.arrow_line(i).center().toPoint()
            )
        assert blocker.args == [i]
        assert diagram.selected_leg == i
        assert grade_text.explain(leg_)[:60] in panel.details.toPlainText()


def save_artifact(widget: QWidget, name: str) -> None:
    """A screenshot for a person to look at (tests/artifacts is git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(ARTIFACTS / f"hop_panel_{name}.png"))


@pytest.fixture
def panel(qtbot) -> HopPanel:
    widget = HopPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_empty_state(panel: HopPanel) -> None:
    assert panel.diagram.model().arrows == ()
    assert not panel.png_button.isEnabled()
    image = panel.diagram.grab().toImage()
    assert not image.isNull()


@pytest.mark.parametrize("make", [all_grades, nine_legs, lambda: demo_like(TlsFacts.cleartext())])
def test_hand_made_traces(qtbot, panel: HopPanel, make) -> None:
    trace = make()
    panel.set_trace(trace)
    check_diagram(qtbot, panel, trace)


def test_nine_legs_wrap_onto_rows_instead_of_shrinking_or_scrolling(qtbot, panel) -> None:
    panel.set_trace(nine_legs())
    panel.resize(900, 600)
    diagram = panel.diagram
    qtbot.waitUntil(lambda: panel.diagram_scroll.viewport().width() < 900)
    assert diagram.sizeHint().width() > panel.diagram_scroll.viewport().width()  # one row: too wide
    assert panel.diagram_scroll.horizontalScrollBar().maximum() == 0
    assert diagram.scale() >= diagram.min_scale() == 1.0  # text at its size, not shrunk
    assert diagram.drawn_size().width() <= diagram.width()
    assert diagram.height() >= diagram.drawn_size().height()
    assert diagram.label_rect(8).top() > diagram.label_rect(0).bottom()  # on a later row
    for index in range(9):
        assert diagram.rect().toRectF().contains(diagram.label_rect(index))
    panel.show_leg(8)
    assert "Leg 9 of 9" in panel.details.toPlainText()
    save_artifact(panel, "nine_legs")


def test_six_legs_fit_1000_wide_in_one_row(panel: HopPanel) -> None:
    panel.set_trace(demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE)))
    hint = panel.diagram.sizeHint()
    assert hint.width() <= 1000 and hint.height() <= 300


def test_clicking_a_label_and_keys_select_legs(qtbot, panel: HopPanel) -> None:
    panel.set_trace(all_grades())
    diagram = panel.diagram
    with qtbot.waitSignal(panel.legClicked) as blocker:
        qtbot.mouseClick(
            diagram, Qt.MouseButton.LeftButton, pos=diagram.label_rect(3).center().toPoint()
        )
    assert blocker.args == [3]
    assert "Leg 4 of 6" in panel.details.toPlainText()
    qtbot.keyClick(diagram, Qt.Key.Key_Right)  # the focus ring moves on from the clicked leg
    with qtbot.waitSignal(diagram.legClicked) as blocker:
        qtbot.keyClick(diagram, Qt.Key.Key_Return)  # and Enter opens it
    assert blocker.args == [4]
    with qtbot.assertNotEmitted(diagram.legClicked):
        qtbot.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))


def test_details_show_certificate_when_known(qtbot, panel: HopPanel) -> None:
    panel.set_trace(demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE)))
    panel.show_leg(0)
    text = panel.details.toPlainText()
    for needle in (
        "Name on certificate",
        "smtp.a.test",
        "TLS_AES_256_GCM_SHA384",
        "10465",
        "RFC 8314",
        "Recommended",
    ):
        assert needle in text


def test_why_view_shows_the_table(qtbot, panel: HopPanel) -> None:
    panel.set_trace(all_grades())
    panel.show_leg(2)
    qtbot.mouseClick(panel.why_button, Qt.MouseButton.LeftButton)
    text = panel.details.toPlainText()
    for needle in (
        "Recommended",
        "Acceptable",
        "465",
        "587",
        "993",
        "143",
        "995",
        "110",
        "DANE",
        "REQUIRETLS",
        "silent downgrade",
    ):
        assert needle in text
    assert "<table" in panel.details.toHtml()
    save_artifact(panel, "why")
    panel.show_why(False)
    assert not panel.why_button.isChecked()
    assert "Leg 3 of 6" in panel.details.toPlainText()
    panel.why_button.click()
    with qtbot.waitSignal(panel.legClicked):
        centre = panel.diagram.arrow_line(0).center().toPoint()
        qtbot.mouseClick(panel.diagram, Qt.MouseButton.LeftButton, pos=centre)
    assert not panel.why_button.isChecked()
    assert "Leg 1 of 6" in panel.details.toPlainText()


def test_export_failure_is_a_sentence_not_a_traceback(
    panel: HopPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel.set_trace(all_grades())
    nowhere = tmp_path / "missing" / "journey.png"
    with pytest.raises(OSError):
        panel.export_png(nowhere)
    warnings: list[str] = []
    monkeypatch.setattr(panel, "_ask_path", lambda *_: str(nowhere))
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: warnings.append(text))
    panel.png_button.click()
    assert len(warnings) == 1 and "could not be saved" in warnings[0]


def test_export_suggests_pictures_for_png_and_documents_for_svg(
    panel: HopPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QFileDialog

    from mua.gui.hop_panel import suggested_export_path

    where = QStandardPaths.StandardLocation
    pictures = Path(QStandardPaths.writableLocation(where.PicturesLocation))
    documents = Path(QStandardPaths.writableLocation(where.DocumentsLocation))
    panel.set_trace(demo_like(tls()))  # subject "Lunch?"
    assert Path(suggested_export_path(panel.trace(), ".png")) == pictures / "journey-Lunch.png"
    assert Path(suggested_export_path(panel.trace(), ".svg")) == documents / "journey-Lunch.svg"
    assert Path(suggested_export_path(None, ".png")).name == "journey.png"
    asked: list[str] = []

    def dialog(_parent, _title, directory, _filter):
        asked.append(directory)
        return "", ""  # the user cancels

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    panel.png_button.click()
    panel.svg_button.click()
    assert asked == [str(pictures / "journey-Lunch.png"), str(documents / "journey-Lunch.svg")]


def test_exports(panel: HopPanel, tmp_path: Path) -> None:
    panel.set_trace(nine_legs())
    png = panel.export_png(tmp_path / "journey.png", scale=2)
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() == 2 * panel.diagram.sizeHint().width()
    svg = panel.export_svg(tmp_path / "journey.svg").read_text()
    assert "<svg" in svg and "MUA" in svg and "SMTP" in svg


def test_dark_palette(qtbot, panel: HopPanel) -> None:
    palette = QPalette(panel.palette())
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    panel.diagram.setPalette(palette)
    panel.set_trace(all_grades())
    panel.show_leg(2)
    image = panel.diagram.grab().toImage()
    assert image.pixelColor(1, 1).lightness() < 60
    for i in range(len(all_grades().legs)):
        assert arrow_pixels_match(image, panel.diagram, i)
    save_artifact(panel, "all_grades_dark")


# -- real journeys from the demo world ------------------------------------------------------

EXPECTED_RELAY = {
    "modern": Grade.GREEN,
    "starttls": Grade.GREEN,
    "opportunistic": Grade.AMBER,
    "plaintext": Grade.RED,
}


@pytest.fixture(scope="module")
def demo_traces() -> dict[str, Trace]:
    return {name: asyncio.run(run_demo(SCENARIOS[name])) for name in EXPECTED_RELAY}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(EXPECTED_RELAY))
def test_demo_journeys(qtbot, panel: HopPanel, demo_traces, scenario: str) -> None:
    trace = demo_traces[scenario]
    panel.set_trace(trace)
    status = panel.status.text()
    assert "Delivered" in status and html.escape(trace.message_id or "?") in status
    assert [a.grade for a in panel.diagram.model().arrows][2] is EXPECTED_RELAY[scenario]
    check_diagram(qtbot, panel, trace)
    if scenario == "starttls":
        assert trace.legs[0].grade is Grade.AMBER
        panel.show_leg(0)
        assert "RFC 3207" in panel.details.toPlainText()
    panel.show_leg(2)
    save_artifact(panel, scenario)
    panel.export_png(ARTIFACTS / f"hop_diagram_{scenario}.png")


@pytest.mark.slow
def test_a_leg_refused_by_a_policy_stops_short(qtbot, panel: HopPanel) -> None:
    """strip-dane: the attacker removed STARTTLS, DANE made the MTA refuse. The relay arrow
    ends in a bar before the MX, its label says nothing was sent, the legend explains it."""
    trace = asyncio.run(run_demo(SCENARIOS["strip-dane"]))
    relay = trace.legs[2]
    assert relay.refused and relay.grade is Grade.GREEN
    plain = panel.diagram.sizeHint().height()
    panel.set_trace(trace)
    assert panel.diagram.sizeHint().height() > plain  # the legend's Outcome row
    arrow = panel.diagram.model().arrows[2]
    assert arrow.refused and arrow.label[-2:] == ("refused", "nothing sent")
    panel.show_leg(2)
    assert panel.details.toPlainText().count("Stopped: nothing of the message was sent") == 1
    assert "RFC 7672" in panel.details.toPlainText()
    image = panel.diagram.grab().toImage()
    ratio = image.devicePixelRatio()
    line = panel.diagram.arrow_line(2)
    colour = grade_colour(Grade.GREEN)

    def near(x: float) -> bool:
        got = image.pixelColor(int(x * ratio), int(line.y1() * ratio))
        pairs = zip(got.getRgb()[:3], colour.getRgb()[:3], strict=True)
        return all(abs(a - b) <= 12 for a, b in pairs)

    assert near(line.x1() + 0.3 * line.dx())  # the shaft starts...
    assert not near(line.x1() + 0.85 * line.dx())  # ...and stops short of the MX
    save_artifact(panel, "strip-dane")


def test_client_legs_say_whether_a_password_or_a_token_crossed(qtbot, panel: HopPanel) -> None:
    """Issue 17: the submission and retrieval legs carry the SASL mechanism the client used."""
    sent = leg(Role.MUA, Role.MSA, Protocol.SUBMISSION, tls(), port_role=465, auth="XOAUTH2")
    read = leg(Role.MS, Role.MUA, Protocol.IMAP, tls(), port_role=993, auth="LOGIN")
    relayed = leg(Role.MTA, Role.MX, Protocol.SMTP, tls(), port_role=25)
    panel.set_trace(Trace(TraceStatus.DELIVERED, [sent, relayed, read], subject="token"))
    panel.show_leg(0)
    text = " ".join(panel.details.toPlainText().split())
    assert "Signed in with an OAuth2 access token (XOAUTH2), no password" in text
    save_artifact(panel, "leg_signed_in_with_token")
    panel.show_leg(2)
    assert "Signed in with your password (LOGIN)" in " ".join(panel.details.toPlainText().split())
    panel.show_leg(1)
    assert "Signed in with" not in panel.details.toPlainText()  # not the client's connection
