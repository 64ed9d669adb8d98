"""The warning about a SQLite MLflow store on a network file system."""
from invdn.tracking.filesystems import filesystem_type, network_store_warning

MOUNTS = """\
overlay / overlay rw,relatime 0 0
server:/export /shared nfs4 rw,relatime,vers=4.2 0 0
tmpfs /shared/scratch tmpfs rw 0 0
server:/home /home/my\\040lab nfs rw 0 0
"""


def test_longest_mount_point_decides():
    assert filesystem_type("/shared/project/results/mlflow.db", MOUNTS) == "nfs4"
    assert filesystem_type("/shared/scratch/mlflow.db", MOUNTS) == "tmpfs"
    assert filesystem_type("/work/results/mlflow.db", MOUNTS) == "overlay"
    assert filesystem_type("/home/my lab/mlflow.db", MOUNTS) == "nfs"
    assert filesystem_type("/sharedx/mlflow.db", MOUNTS) == "overlay"  # a prefix of a name is not a parent


def test_warns_for_sqlite_on_nfs_only():
    warning = network_store_warning("sqlite:////shared/project/results/mlflow.db", MOUNTS)
    assert "network file system (nfs4)" in warning and "/shared/project/results/mlflow.db" in warning
    assert "docs/cluster.md" in warning
    assert network_store_warning("sqlite:////shared/scratch/mlflow.db", MOUNTS) is None
    assert network_store_warning("http://server:5000", MOUNTS) is None
    assert network_store_warning("sqlite:////work/results/mlflow.db", MOUNTS) is None
