# test_packaging.py  the vending tools as a wheel: built, installed into a new venv, and run
# from outside the repository, so nothing of the checkout is importable (issue 14).
# The wheel's one dependency tree (cryptography, cffi, ...) is copied file by file from the
# environment running the tests, as pip would have installed it, following the wheel's own
# Requires-Dist: it needs no network, and a dependency the wheel forgets to declare is missing.
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from conftest import ROOT
from examples import exit_code_shown, readme_examples

# What setuptools reads to build the wheel (pyproject.toml names the rest).
SOURCES = ["pyproject.toml", "stsvend", "firmware", "README.md", "LICENSE", "MANIFEST.in"]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def build_wheel(tmp):
    """The wheel, built from a copy of the sources (setuptools writes build/ beside them)."""
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(
                path,
                os.path.join(src, name),
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        elif os.path.exists(path):
            shutil.copy(path, src)
    out = os.path.join(tmp, "dist")
    build = PIP + ["wheel", src, "--no-deps", "-w", out, "--quiet"]
    # With the setuptools of `make setup` (the dev extra), which needs no index; else an
    # isolated build, as `pip install .` does, with setuptools from the index.
    tries = [build + ["--no-build-isolation"], build]
    errors = []
    for cmd in tries:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            (wheel,) = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".whl")]
            return wheel
        errors.append(r.stdout + r.stderr)
    why = "cannot build the wheel: no setuptools>=70.1 here (`make setup`), no index reached"
    if os.environ.get("CI"):
        pytest.fail(why + ":\n" + "\n".join(errors))
    pytest.skip(why)


def requirements(dist):
    """The requirements of an installed distribution that apply here (no extras)."""
    out = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req)
    return out


def copy_dependencies(wheel_dist, site):
    """Copy every distribution `wheel_dist` requires, and theirs, from this environment
    into the site-packages `site`: their files as their RECORD lists them."""
    todo, done = requirements(wheel_dist), set()
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in done:
            continue
        done.add(name)
        dist = metadata.distribution(req.name)  # PackageNotFoundError: not installed here
        assert dist.version in req.specifier, "%s %s here, the wheel needs %s" % (
            req.name,
            dist.version,
            req,
        )
        for f in dist.files:
            if f.parts[0] == "..":  # scripts and data outside site-packages: not needed
                continue
            dst = os.path.join(site, *f.parts)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(dist.locate_file(f), dst)
        todo.extend(requirements(dist))
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the new venv's bin directory, a directory outside the repository, the wheel's path,
    the venv's site-packages)."""
    tmp = str(tmp_path_factory.mktemp("wheel"))
    wheel = build_wheel(tmp)
    venv = os.path.join(tmp, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    subprocess.run(
        PIP + ["--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        check=True,
        timeout=120,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    copy_dependencies(next(metadata.distributions(name="stsmeter", path=[site])), site)
    work = os.path.join(tmp, "elsewhere")
    os.mkdir(work)
    return os.path.join(venv, "bin"), work, wheel, site


def run(installed, *args):
    bindir, work = installed[:2]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    r = subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "%s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def test_wheel_holds_sts_and_the_profiles_and_no_other_firmware(installed):
    names = zipfile.ZipFile(installed[2]).namelist()
    for name in (
        "sts/__init__.py",
        "sts/codec.py",
        "sts/sta.py",
        "stsvend/cli.py",
        "stsvend/profiles/demo.json",
        "stsvend/profiles/fleet-demo.csv",
    ):
        assert name in names, name
    assert not [n for n in names if n.split("/")[0] in ("meter", "ui", "hal", "firmware")]
    # stsvend and sts only: no checkout tools (tools/), bench, tests or vectors
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"sts", "stsvend"}, tops


def test_installed_wheel_imports_only_from_the_venv(installed):
    bindir, work = installed[:2]
    out = run(
        installed,
        os.path.join(bindir, "python"),
        "-c",
        "import stsvend, sts\n"
        "print(stsvend.__file__); print(sts.__file__)\n"
        "try:\n    import meter\nexcept ImportError:\n    print('no meter')\n",
    )
    venv = os.path.dirname(bindir)
    paths = out.split()
    assert all(p.startswith(venv + os.sep) for p in paths[:2]), out
    assert paths[2:] == ["no", "meter"], "the firmware's meter is importable: " + out
    assert not ROOT.startswith(work) and not work.startswith(ROOT)


def test_stsvend_help_key_credit_explain(installed):
    bindir, work, _, site = installed
    stsvend = os.path.join(bindir, "stsvend")
    assert "usage: stsvend" in run(installed, stsvend, "--help")
    # The demo profile as installed with the wheel (package data), copied to work in.
    shutil.copy(os.path.join(site, "stsvend", "profiles", "demo.json"), work)
    key = run(installed, stsvend, "--profile", "demo.json", "key")
    assert key.strip() == "decoder key e653341f9d5bf36f (STA, DKGA02, KRN 1)", key
    credit = run(
        installed, stsvend, "--profile", "demo.json", "credit", "5", "--at", "2024-06-01T12:00Z"
    )
    m = re.match(r"((?:\d{4} ){4}\d{4}) +electricity credit\n", credit)
    assert m, credit
    assert "amount 5.0" in credit and "TID 16523280 = 2024-06-01 12:00 UTC" in credit
    explained = run(installed, stsvend, "--profile", "demo.json", "explain", m.group(1))
    for line in (
        r"CRC +stored (\w{4}), computed \1: match",
        r"token +class 0 subclass 0: electricity credit",
        r"amount +5\.0 units",
        r"TID time +2024-06-01 12:00 UTC",
    ):
        assert re.search(line, explained), (line, explained)


def _stsvend(installed, line, cwd):
    """One example line run as a shell would, with the wheel's stsvend first on PATH."""
    bindir = installed[0]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    argv = shlex.split(line)
    assert argv[0] == "stsvend", line
    r = subprocess.run(
        [os.path.join(bindir, "stsvend")] + argv[1:],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.returncode, r.stdout + r.stderr


def test_the_readme_examples_run_from_the_installed_wheel_in_any_directory(installed, tmp_path):
    """As a vending office has them: the wheel installed, a directory with nothing in it."""
    examples = readme_examples()
    assert len(examples) >= 15
    for line, shown in examples:
        code, out = _stsvend(installed, line, tmp_path)
        assert out.rstrip("\n") == shown, (line, out)
        assert code == exit_code_shown(shown), (line, code)
    assert not [f for f in os.listdir(tmp_path) if f.startswith("stsvend")], "no repo paths"


def test_every_help_example_runs_from_the_installed_wheel_in_any_directory(installed, tmp_path):
    helps = {}
    for cmd in (
        ([], ["batch"], ["batch", "migrate"])
        + tuple(
            [c] for c in ("key", "credit", "management", "keychange", "migrate", "test", "explain")
        )
        + (["profiles"],)
    ):
        code, out = _stsvend(installed, "stsvend %s --help" % " ".join(cmd), tmp_path)
        assert code == 0, out
        helps[" ".join(cmd) or "stsvend"] = out
    ran = 0
    for name, text in helps.items():
        lines = re.findall(r"^  (stsvend .*?)(?:\s{3,}\(.*\))?$", text, re.M)
        assert lines, name
        where = tmp_path / name.replace(" ", "-")
        where.mkdir()
        for line in lines:
            if "KEY.hex" in line or "FLEET.csv" in line:  # a placeholder: your own files
                continue
            code, out = _stsvend(installed, line, where)
            assert code == 0, (name, line, out)
            ran += 1
    assert ran >= 20, helps
