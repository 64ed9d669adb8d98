"""Security: downloads extracted without trusting member names; the MLflow UI bound to localhost."""
import io
import tarfile
import zipfile

import pytest
from click.testing import CliRunner

from invdn.cli import main
from invdn.data.archive import ArchiveError, extract_archive


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_extracts_a_normal_zip_and_tar(tmp_path):
    z = _zip(tmp_path / "SIDD_Medium_Srgb.zip", {"Data/0001/GT_SRGB_010.PNG": b"gt", "Data/0001/NOISY_SRGB_010.PNG": b"n"})
    files = extract_archive(z, tmp_path / "out")
    assert sorted(f.name for f in files) == ["GT_SRGB_010.PNG", "NOISY_SRGB_010.PNG"]
    assert (tmp_path / "out" / "Data" / "0001" / "GT_SRGB_010.PNG").read_bytes() == b"gt"
    t = tmp_path / "dnd.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        info = tarfile.TarInfo("dnd_2017/info.mat")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"mat"))
    extract_archive(t, tmp_path / "out")
    assert (tmp_path / "out" / "dnd_2017" / "info.mat").read_bytes() == b"mat"


@pytest.mark.parametrize("name", ["../evil.txt", "Data/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt"])
def test_zip_slip_refuses_the_whole_archive(tmp_path, name):
    z = _zip(tmp_path / "bad.zip", {"Data/ok.PNG": b"ok", name: b"x"})
    with pytest.raises(ArchiveError, match=r"bad\.zip: member .*evil\.txt.*refusing the whole archive"):
        extract_archive(z, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "Data" / "ok.PNG").exists()


def test_tar_links_are_refused(tmp_path):
    t = tmp_path / "bad.tar"
    with tarfile.open(t, "w") as tf:
        link = tarfile.TarInfo("Data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(ArchiveError, match=r"bad\.tar: member 'Data/passwd' is a link"):
        extract_archive(t, tmp_path / "out")


def test_cli_names_the_archive(tmp_path):
    (tmp_path / "notes.zip").write_text("not an archive")
    r = CliRunner().invoke(main, ["prepare", "extract", str(tmp_path / "notes.zip"), "--out-dir", str(tmp_path / "o")])
    assert r.exit_code == 1 and "notes.zip: not a zip or tar archive" in r.output


def test_the_mlflow_ui_listens_on_localhost_unless_told_otherwise():
    import subprocess

    from helpers import REPO

    dry = subprocess.run(["make", "-n", "-o", ".venv/.installed.test", "ui"], cwd=REPO, capture_output=True, text=True)
    assert "--host 127.0.0.1" in dry.stdout, dry.stdout + dry.stderr
    other = subprocess.run(["make", "-n", "-o", ".venv/.installed.test", "ui", "UI_HOST=0.0.0.0"], cwd=REPO,
                           capture_output=True, text=True)
    assert "--host 0.0.0.0" in other.stdout
