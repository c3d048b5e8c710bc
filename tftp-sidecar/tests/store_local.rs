//! LocalRoot: reads under the root only, optional case-insensitive lookup.

use std::path::Path;

use tftp_sidecar::content::{FileSource, OpenError};
use tftp_sidecar::store::LocalRoot;

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

async fn read_all(src: &LocalRoot, name: &str) -> Result<Vec<u8>, OpenError> {
    let c = src.open(name).await?;
    Ok(c.read_at(0, usize::MAX / 2).await.unwrap().to_vec())
}

#[tokio::test]
async fn reads_files_under_root() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("SEPDefault.cnf"), b"cfg");
    write(&dir.path().join("sub/dir/file.bin"), b"fw");
    let root = LocalRoot::new(dir.path().to_path_buf(), false);
    root.check().unwrap();
    assert_eq!(read_all(&root, "SEPDefault.cnf").await.unwrap(), b"cfg");
    assert_eq!(read_all(&root, "sub/dir/file.bin").await.unwrap(), b"fw");
    assert_eq!(read_all(&root, "missing").await, Err(OpenError::NotFound));
    assert_eq!(
        read_all(&root, "SEPDefault.cnf/x").await,
        Err(OpenError::NotFound)
    );
    assert!(matches!(
        read_all(&root, "sub").await,
        Err(OpenError::AccessDenied(_))
    ));
    let c = root.open("SEPDefault.cnf").await.unwrap();
    assert_eq!(c.size_hint(), Some(3));
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_escape_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("secret"), b"secret");
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("root");
    write(&root_path.join("inside.txt"), b"inside");
    std::os::unix::fs::symlink(outside.path().join("secret"), root_path.join("leak")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root_path.join("leakdir")).unwrap();
    // A link that stays inside the root is fine.
    std::os::unix::fs::symlink(root_path.join("inside.txt"), root_path.join("alias")).unwrap();
    let root = LocalRoot::new(root_path.clone(), false);
    for name in ["leak", "leakdir/secret"] {
        match read_all(&root, name).await {
            Err(OpenError::AccessDenied(why)) => assert!(why.contains("outside"), "{why}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    for name in ["../root/inside.txt", "/etc/passwd"] {
        assert!(
            matches!(read_all(&root, name).await, Err(OpenError::AccessDenied(_))),
            "{name}"
        );
    }
    assert_eq!(read_all(&root, "alias").await.unwrap(), b"inside");
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_escape_refused_case_insensitive() {
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("Secret"), b"secret");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("Out")).unwrap();
    let root = LocalRoot::new(dir.path().to_path_buf(), true);
    assert!(matches!(
        read_all(&root, "out/secret").await,
        Err(OpenError::AccessDenied(_))
    ));
}

#[tokio::test]
async fn case_insensitive_lookup() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("Firmware/Jar41sip.9-4-2ES26.sbn"), b"jar");
    let strict = LocalRoot::new(dir.path().to_path_buf(), false);
    assert_eq!(
        read_all(&strict, "firmware/jar41sip.9-4-2ES26.sbn").await,
        Err(OpenError::NotFound)
    );
    let loose = LocalRoot::new(dir.path().to_path_buf(), true);
    assert_eq!(
        read_all(&loose, "firmware/jar41sip.9-4-2ES26.SBN")
            .await
            .unwrap(),
        b"jar"
    );
    assert_eq!(
        read_all(&loose, "Firmware/Jar41sip.9-4-2ES26.sbn")
            .await
            .unwrap(),
        b"jar"
    );
    assert_eq!(
        read_all(&loose, "firmware/nope.sbn").await,
        Err(OpenError::NotFound)
    );
}

#[tokio::test]
async fn case_insensitive_prefers_exact_match() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.txt"), b"lower");
    write(&dir.path().join("A.txt"), b"upper");
    let loose = LocalRoot::new(dir.path().to_path_buf(), true);
    assert_eq!(read_all(&loose, "A.txt").await.unwrap(), b"upper");
    assert_eq!(read_all(&loose, "a.txt").await.unwrap(), b"lower");
    // Neither matches exactly: the smallest name wins, so the answer is stable.
    assert_eq!(read_all(&loose, "a.TXT").await.unwrap(), b"upper");
}

#[tokio::test]
async fn missing_root_is_reported() {
    let root = LocalRoot::new("/nonexistent/tftp-root".into(), false);
    assert!(root.check().is_err());
    assert!(matches!(
        read_all(&root, "x").await,
        Err(OpenError::Unavailable(_))
    ));
}
