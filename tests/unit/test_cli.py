"""The CLI's surface: --help everywhere, one clear line and exit 2 for wrong arguments."""

import argparse
import subprocess
import sys

import pytest

from middleware.cli.main import build_parser, main


def all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = all_command_paths()
    assert ["stack", "up"] in paths and ["db", "upgrade"] in paths and ["demo"] in paths
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            main([*path, "--help"])
        assert exc.value.code == 0, path
        assert "usage: callcenter" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["nosuch"], ["db"], ["queue", "add", "q1"],
                                  ["queue", "add", "q1", "--tenant", "t", "--strategy", "fastest"],
                                  ["call", "list", "--limit", "many"]])
def test_wrong_arguments_give_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err and "--help" in err


def test_unreachable_database_is_one_line_exit_1() -> None:
    proc = subprocess.run([sys.executable, "-m", "middleware", "agent", "list"], capture_output=True, text=True,
                          env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "PATH": "/usr/bin:/bin"},
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("callcenter: cannot reach PostgreSQL")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_ivr_validate_reports_each_problem_and_exits_1(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("flow: bad\nstart: m\nnodes:\n"
                   "  m: {type: menu, prompt: beep, options: {'1': gone}, on_timeout: m}\n")
    proc = subprocess.run([sys.executable, "-m", "middleware", "ivr", "validate", str(bad), "--no-prompts"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"{bad}: nodes.m.options.1: branch to unknown node 'gone'" in proc.stdout
    assert "goes round forever" in proc.stdout and "loop with no exit: m" in proc.stdout
    assert "3 problem(s); not loadable" in proc.stdout
    good = subprocess.run([sys.executable, "-m", "middleware", "ivr", "validate", "dialplans/ivr/acme-main.yaml",
                           "--no-prompts"], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and good.stdout.strip().endswith(": ok")


CAMPAIGN = ["campaign", "create", "spring", "--tenant", "acme", "--caller-id", "+15551000", "--agents", "1001",
            "--safe-harbor", "acme-safe-harbor"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--window", "07:00-20:00"], "must lie within 08:00-21:00"),
    (["--window", "9-5"], "expected HH:MM-HH:MM"),
    (["--abandon-target", "0.05"], "at most 0.03"),
    (["--ring-timeout", "10"], "at least 15 s"),
    (["--retry", "abandoned=3600"], "within 72 hours"),
    (["--retry", "sale=60"], "may be recycled"),
    (["--retry", "no_answer"], "OUTCOME=SECONDS"),
    (["--machine", "message"], "needs --machine-prompt"),
    (["--caller-id", "Acme Corp"], "--caller-id"),
    (["--safe-harbor", "../../etc/passwd;x"], "a sound file name"),
])
def test_campaign_settings_are_checked_before_anything_is_stored(
        extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = list(CAMPAIGN)
    for i in range(0, len(extra), 2):
        if extra[i] in argv:
            argv[argv.index(extra[i]) + 1] = extra[i + 1]
        else:
            argv += extra[i:i + 2]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err

