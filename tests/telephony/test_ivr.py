"""IVR state machine, prompts, WAV helpers, telephony config and Kamailio config (no SIP, no DB)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from node import settings as node_settings
from node.errors import ValidationError
from node.telephony import audio, ivr, kamailio, processes
from node.telephony import config as tconfig
from node.telephony.prompts import Prompt, PromptLibrary, spell_digits, wav_duration

MENUS = ivr.menus_from_rows(ivr.DEFAULT_MENUS)


def test_main_menu_keys_lead_to_queue_with_business_type() -> None:
    for key, business in (("1", "1"), ("2", "2"), ("3", "3"), ("0", "")):
        s = ivr.IvrSession(MENUS)
        assert s.start().wait == "key"
        step = s.key(key)
        assert step is not None and (step.outcome, step.business) == ("queue", business)


def test_other_lines_say_hotline_numbers_and_star_repeats() -> None:
    s = ivr.IvrSession(MENUS)
    s.start()
    step = s.key("5")
    assert step is not None and step.note == {"menu": "other_lines"}
    said = s.key("1")
    assert said is not None and "幺二三零六" in said.play[0].text and said.wait == "key"
    again = s.key("*")
    assert again is not None and again.play[0].text == MENUS["other_lines"].prompt
    back = s.key("9")
    assert back is not None and back.note == {"menu": "main"}


def test_order_query_collects_number_and_code_then_reads_state() -> None:
    s = ivr.IvrSession(MENUS)
    s.start()
    assert s.key("4") is not None
    for d in "2025001":
        assert s.key(d) is None
    assert s.key("#") is not None
    for d in "1234":
        s.key(d)
    step = s.key("#")
    assert step is not None and (step.outcome, step.order_number, step.query_code) == (
        "lookup",
        "2025001",
        "1234",
    )
    back = s.lookup_result("办理中")
    assert "办理中" in back.play[0].text and back.note["found"] is True and s.mode == "menu"
    assert s.lookup_result(None).play[0].name == "order_not_found"


def _queried(number: str = "2025001") -> ivr.IvrSession:
    s = ivr.IvrSession(MENUS)
    s.start()
    s.key("4")
    for d in number + "#1234#":
        s.key(d)
    return s


def test_a_closed_order_queried_is_offered_a_rating_once() -> None:
    s = _queried()
    offer = s.lookup_result("已办结", rateable=True)
    assert [p.name for p in offer.play] == ["", "query_rating"] and "已办结" in offer.play[0].text
    assert s.mode == "rate" and offer.wait == "key" and offer.outcome == ""
    rated = s.key("3")
    assert rated is not None and (rated.outcome, rated.rating, rated.order_number) == ("rate", "3", "2025001")
    assert rated.play[0].name == "query_rating_thanks" and rated.note == {"menu": "main"} and s.mode == "menu"
    # 0 (or any other key) and silence go back to the main menu without a rating
    s = _queried()
    s.lookup_result("已办结", rateable=True)
    skipped = s.key("0")
    assert skipped is not None and skipped.outcome == "" and skipped.rating == "" and s.mode == "menu"
    s = _queried()
    s.lookup_result("即时答复", rateable=True)
    quiet = s.timeout()
    assert quiet.outcome == "" and quiet.note == {"menu": "main"} and s.mode == "menu"
    # an order still being handled is only read out
    s = _queried()
    assert s.lookup_result("办理中", rateable=False).play[1].name == "menu_main" and s.mode == "menu"


def test_invalid_keys_and_silence_end_at_an_agent() -> None:
    s = ivr.IvrSession(MENUS)
    s.start()
    assert s.key("7").play[0].name == "invalid"  # type: ignore[union-attr]
    assert s.key("8").play[0].name == "invalid"  # type: ignore[union-attr]
    step = s.key("9")
    assert step is not None and step.outcome == "queue" and step.note == {"reason": "invalid"}
    quiet = ivr.IvrSession(MENUS)
    quiet.start()
    quiet.timeout()
    quiet.timeout()
    assert quiet.timeout().outcome == "queue"


def test_menu_validation_messages() -> None:
    bad = dict(MENUS)
    bad["main"] = ivr.MenuSpec(
        "main",
        "主菜单",
        "",
        {"1": {"action": "fly"}, "2": {"action": "queue", "business": "9"}, "3": {"action": "say"}},
        timeout_s=0,
    )
    with pytest.raises(ValidationError) as err:
        ivr.validate_menus(bad)
    assert set(err.value.details) == {"main", "main.timeout_s", "main.1", "main.2", "main.3"}
    with pytest.raises(ValidationError):
        ivr.validate_menus({"other": MENUS["other_lines"]})


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng/sox 未安装")
def test_prompts_are_8khz_speech_and_operator_files_win(tmp_path: Path) -> None:
    lib = PromptLibrary(tmp_path)
    path = lib.ensure(Prompt("invalid", "您的输入有误，请重新选择。"))
    rate, samples = audio.read_samples(path)
    assert rate == 8000 and wav_duration(path) > 1.0 and np.abs(samples).max() > 1000
    custom = tmp_path / "custom" / "invalid.wav"
    custom.parent.mkdir()
    shutil.copy(path, custom)
    assert lib.path_for(Prompt("invalid", "x")) == custom
    assert wav_duration(lib.hold_music()) == pytest.approx(8.0, abs=0.1)
    with pytest.raises(ValidationError):
        lib.ensure(Prompt("", "  "))
    assert spell_digits("12305") == "幺二三零五"


def test_wav_repair_and_tone_detection(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 1000 * t)).astype("<i2").tobytes()
    path = tmp_path / "x.wav"
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    path.write_bytes(
        b"RIFF" + b"\0\0\0\0" + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data\0\0\0\0" + pcm
    )
    assert audio.needs_repair(path)
    info = audio.repair(path)
    assert info.duration_s == pytest.approx(1.0) and not audio.needs_repair(path)
    rate, samples = audio.read_samples(path)
    assert audio.band_level(samples, rate, 1000) > 0.9 and audio.band_level(samples, rate, 1400) < 0.01
    (tmp_path / "bad.wav").write_bytes(b"nope")
    with pytest.raises(audio.WavError):
        audio.inspect(tmp_path / "bad.wav")


def _settings(tmp_path: Path, **tel: object) -> node_settings.Settings:
    return node_settings.for_tests(tmp_path, "sqlite:///x.db", extra={"telephony": tel})


def test_config_defaults_and_errors(tmp_path: Path) -> None:
    cfg = tconfig.load(_settings(tmp_path))
    assert (cfg.engines, cfg.callers_per_engine, cfg.sip_port) == (20, 2, 5060)
    assert cfg.capacity == 40 and cfg.processes == 21 and cfg.engine_name(20) == "announcer"
    assert cfg.recordings_dir == tmp_path / "recordings"
    with pytest.raises(ValidationError) as err:
        tconfig.load(
            _settings(
                tmp_path,
                engines=0,
                callers_per_engine=9,
                sip_port="x",
                retention_days=0,
                service_number="12a",
                sip_realm="bad realm",
                trace_setup="yes",
            )
        )
    assert set(err.value.details) == {
        "engines",
        "callers_per_engine",
        "sip_port",
        "retention_days",
        "service_number",
        "sip_realm",
        "trace_setup",
    }
    assert tconfig.load(_settings(tmp_path, trace_setup=True, sip_realm="node.example")).trace_setup


@pytest.mark.skipif(
    not Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so").exists(), reason="kamailio 未安装"
)
def test_kamailio_config_lists_engines_and_gateway(tmp_path: Path) -> None:
    cfg = tconfig.load(_settings(tmp_path, engines=3, engine_base_port=6000, pstn_gateway="10.0.0.9:5060"))
    path = kamailio.write_config(cfg)
    text = path.read_text()
    assert "listen=udp:127.0.0.1:5060" in text and 'ds_select_dst("1", "4")' in text
    assert '$du = "sip:10.0.0.9:5060"' in text
    # REGISTER needs digest credentials; non-engine INVITEs to other numbers need them too
    assert 'auth_check("hotline12328", "subscriber", "1")' in text and "auth_challenge" in text
    assert '!ds_is_from_list("1")' in text and 'proxy_authorize("hotline12328", "subscriber")' in text
    assert "hotline-setup" not in text  # tracing only when asked for
    assert (cfg.run_dir / "dbtext" / "subscriber").read_text().startswith("id(int,auto) username(string)")
    traced = kamailio.render(tconfig.load(_settings(tmp_path, trace_setup=True)), cfg.run_dir)
    assert "hotline-setup invite $ci" in traced and "onreply_route[SETUP]" in traced
    listed = (cfg.run_dir / "dispatcher.list").read_text()
    assert all(f"1 sip:127.0.0.1:{p}" in listed for p in (6000, 6001, 6002))
    # the busy announcer is set 2, tried when every engine of set 1 refused
    assert "2 sip:127.0.0.1:6003" in listed and 'ds_select_dst("2", "0")' in text
    # one UDP worker keeps in-dialog requests (SIP INFO digits) in order
    assert "children=1" in text
    specs = processes.specs("/srv/node/node.toml", tconfig.load(_settings(tmp_path, engines=2)))
    assert [s.name for s in specs] == ["kamailio", "engine-1", "engine-2", "announcer"]
    assert specs[2].argv[-4:] == ["--config", "/srv/node/node.toml", "--index", "1"]
    assert specs[3].argv[-1] == "2"
    quiet = tconfig.load(_settings(tmp_path, engines=2, busy_announcer=False))
    assert [s.name for s in processes.specs("/x", quiet)][-1] == "engine-2"
    assert 'ds_select_dst("2"' not in kamailio.render(quiet, cfg.run_dir)
