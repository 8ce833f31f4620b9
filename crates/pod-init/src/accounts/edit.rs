//! Pure edits of the account databases: what `groupadd`/`groupmod -n -g`,
//! `useradd`/`usermod -l -u -g -d -s -aG` would do, on values in memory.
//!
//! Nothing here touches a file, so every case (fresh image, placeholder
//! account holding the ids, restart) is a unit test. Each function returns
//! the changes it made, in words, for the log; an empty list means the
//! databases already said what they should, and then nothing is written.
//!
//! When the wanted name and the wanted id are held by two different entries,
//! the entry holding the id wins (it is the one files on scratch belong to):
//! it is renamed and the entry holding only the name is removed.

use super::group::Group;
use super::gshadow::Gshadow;
use super::passwd::Passwd;
use super::shadow::Shadow;
use super::{Db, add_member, remove_member, rename_member};
use crate::identity::Identity;

/// The four databases, edited together. shadow and gshadow are optional: a
/// rootfs without them is left without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    pub passwd: Db<Passwd>,
    pub group: Db<Group>,
    pub shadow: Option<Db<Shadow>>,
    pub gshadow: Option<Db<Gshadow>>,
}

/// The shadow hash field of a locked password, as `passwd -l` and
/// `useradd` write it: no hash matches it.
pub const LOCKED: &str = "!";

/// The account the researcher must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
    pub shell: &'a str,
}

impl Accounts {
    /// Afterwards exactly one group is called `name`, and it has `gid`.
    pub fn ensure_group(&mut self, name: &str, gid: u32) -> Vec<String> {
        let mut changes = Vec::new();
        let holder = self.group.find(|g| g.gid == gid).map(|g| g.name.clone());
        let named = self.group.get(name).map(|g| g.gid);
        match (holder, named) {
            (Some(holder), _) if holder == name => {}
            (Some(holder), named) => {
                if let Some(old_gid) = named {
                    self.group.remove(name);
                    if let Some(gs) = &mut self.gshadow {
                        gs.remove(name);
                    }
                    changes.push(format!("removed group {name} (gid {old_gid}): gid {gid} belongs to group {holder}"));
                }
                self.rename_group(&holder, name);
                changes.push(format!("renamed group {holder} (gid {gid}) to {name}"));
            }
            (None, Some(old_gid)) => {
                self.group.update(
                    |g| g.name == name,
                    |g| {
                        g.gid = gid;
                        true
                    },
                );
                // groupmod -g moves the users whose primary group it was.
                self.passwd.update(
                    |u| u.gid == old_gid,
                    |u| {
                        u.gid = gid;
                        true
                    },
                );
                changes.push(format!("changed gid of group {name} from {old_gid} to {gid}"));
            }
            (None, None) => {
                self.group.push(Group::new(name, gid));
                changes.push(format!("added group {name} (gid {gid})"));
            }
        }
        // Later entries of the same name are ambiguous (NSS returns the
        // first); they go, so the name has exactly one gid.
        if self.group.find(|g| g.name == name).is_some_and(|g| g.gid != gid) {
            self.group.remove_where(|g| g.name == name && g.gid != gid);
            changes.push(format!("removed entries of group {name} without gid {gid}"));
        }
        if self.group.dedupe(name) > 0 {
            changes.push(format!("removed duplicate entries of group {name}"));
        }
        let malformed = self.group.remove_unparsed_named(name)
            + self.gshadow.as_mut().map_or(0, |gs| gs.remove_unparsed_named(name));
        if malformed > 0 {
            changes.push(format!("removed {malformed} malformed line(s) naming group {name}"));
        }
        if let Some(gs) = &mut self.gshadow {
            if gs.get(name).is_none() {
                gs.push(Gshadow::new(name));
                changes.push(format!("added gshadow entry for {name}"));
            }
        }
        changes
    }

    fn rename_group(&mut self, from: &str, to: &str) {
        self.group.update(
            |g| g.name == from,
            |g| {
                g.name = to.to_owned();
                true
            },
        );
        if let Some(gs) = &mut self.gshadow {
            gs.update(
                |g| g.name == from,
                |g| {
                    g.name = to.to_owned();
                    true
                },
            );
        }
    }

    /// Afterwards exactly one account is called `spec.name`, with `spec.uid`,
    /// primary group `spec.gid`, and the given home and shell.
    pub fn ensure_user(&mut self, spec: &UserSpec<'_>) -> Vec<String> {
        let mut changes = Vec::new();
        let name = spec.name;
        let holder = self.passwd.find(|u| u.uid == spec.uid).map(|u| u.name.clone());
        let named = self.passwd.get(name).map(|u| u.uid);
        match (holder, named) {
            (Some(holder), _) if holder == name => {}
            (Some(holder), named) => {
                if let Some(old_uid) = named {
                    self.remove_user(name);
                    changes.push(format!(
                        "removed user {name} (uid {old_uid}): uid {} belongs to user {holder}",
                        spec.uid
                    ));
                }
                self.rename_user(&holder, name);
                changes.push(format!("renamed user {holder} (uid {}) to {name}", spec.uid));
            }
            (None, Some(old_uid)) => {
                self.passwd.update(
                    |u| u.name == name,
                    |u| {
                        u.uid = spec.uid;
                        true
                    },
                );
                changes.push(format!("changed uid of user {name} from {old_uid} to {}", spec.uid));
            }
            (None, None) => {
                self.passwd.push(Passwd::new(name, spec.uid, spec.gid, spec.home, spec.shell));
                changes.push(format!("added user {name} (uid {})", spec.uid));
            }
        }
        if self.passwd.find(|u| u.name == name).is_some_and(|u| u.uid != spec.uid) {
            self.passwd.remove_where(|u| u.name == name && u.uid != spec.uid);
            changes.push(format!("removed entries of user {name} without uid {}", spec.uid));
        }
        if self.passwd.dedupe(name) > 0 {
            changes.push(format!("removed duplicate entries of user {name}"));
        }
        let malformed = self.passwd.remove_unparsed_named(name)
            + self.shadow.as_mut().map_or(0, |sh| sh.remove_unparsed_named(name));
        if malformed > 0 {
            changes.push(format!("removed {malformed} malformed line(s) naming user {name}"));
        }
        let mut fixed = Vec::new();
        self.passwd.update(
            |u| u.name == name,
            |u| {
                let before = u.clone();
                if u.gid != spec.gid {
                    u.gid = spec.gid;
                    fixed.push(format!("primary gid {} -> {}", before.gid, spec.gid));
                }
                if u.home != spec.home {
                    u.home = spec.home.to_owned();
                    fixed.push(format!("home {} -> {}", before.home, spec.home));
                }
                if u.shell != spec.shell {
                    u.shell = spec.shell.to_owned();
                    fixed.push(format!("shell {} -> {}", before.shell, spec.shell));
                }
                *u != before
            },
        );
        if !fixed.is_empty() {
            changes.push(format!("user {name}: {}", fixed.join(", ")));
        }
        changes
    }

    /// `usermod -l`: the account and its memberships change name.
    fn rename_user(&mut self, from: &str, to: &str) {
        let rename = |u: &mut Passwd| {
            u.name = to.to_owned();
            true
        };
        self.passwd.update(|u| u.name == from, rename);
        if let Some(sh) = &mut self.shadow {
            sh.update(
                |s| s.name == from,
                |s| {
                    s.name = to.to_owned();
                    true
                },
            );
        }
        self.group.update(|_| true, |g| rename_member(&mut g.members, from, to));
        if let Some(gs) = &mut self.gshadow {
            gs.update(|_| true, |g| g.edit_both_lists(|list| rename_member(list, from, to)));
        }
    }

    /// `userdel` without the files: the account and its memberships go.
    fn remove_user(&mut self, name: &str) {
        self.passwd.remove(name);
        if let Some(sh) = &mut self.shadow {
            sh.remove(name);
        }
        self.group.update(|_| true, |g| remove_member(&mut g.members, name));
        if let Some(gs) = &mut self.gshadow {
            gs.update(|_| true, |g| g.edit_both_lists(|list| remove_member(list, name)));
        }
    }

    /// `usermod -aG`: `user` becomes a member of each of `groups` that exists.
    pub fn add_to_groups(&mut self, user: &str, groups: &[&str]) -> Vec<String> {
        let mut changes = Vec::new();
        for &group in groups {
            let added = self.group.update(|g| g.name == group, |g| add_member(&mut g.members, user));
            if let Some(gs) = &mut self.gshadow {
                gs.update(|g| g.name == group, |g| add_member(&mut g.members, user));
            }
            if added > 0 {
                changes.push(format!("added {user} to group {group}"));
            }
        }
        changes
    }

    /// The shadow entry of `user` holds the locked password `!`: no
    /// password opens the account (`su`, a password login), whatever hash
    /// an earlier start or the image put there; `sudo` needs none (the
    /// drop-in says NOPASSWD).
    pub fn lock_password(&mut self, user: &str, days_since_epoch: u64) -> Vec<String> {
        let Some(shadow) = &mut self.shadow else {
            return vec!["no /etc/shadow: password not locked".to_owned()];
        };
        match shadow.get(user) {
            Some(entry) if entry.hash == LOCKED => Vec::new(),
            Some(_) => {
                shadow.update(
                    |s| s.name == user,
                    |s| {
                        s.hash = LOCKED.to_owned();
                        true
                    },
                );
                vec![format!("locked the password of {user}")]
            }
            None => {
                shadow.push(Shadow::new(user, LOCKED, days_since_epoch));
                vec![format!("added shadow entry for {user}, password locked")]
            }
        }
    }

    /// The ids `name` runs with: its uid, its primary gid and, as the
    /// groups, the primary gid then the supplementary ones.
    pub fn identity(&self, name: &str) -> Option<Identity> {
        let entry = self.passwd.get(name)?;
        let mut groups = vec![entry.gid];
        groups.extend(self.supplementary_gids(name).into_iter().filter(|g| *g != entry.gid));
        Some(Identity { uid: entry.uid, gid: entry.gid, groups })
    }

    /// The groups `user` runs with besides its primary one, from /etc/group
    /// (static musl has no `initgroups`).
    pub fn supplementary_gids(&self, user: &str) -> Vec<u32> {
        let mut gids: Vec<u32> =
            self.group.entries().filter(|g| g.members.iter().any(|m| m == user)).map(|g| g.gid).collect();
        gids.sort_unstable();
        gids.dedup();
        gids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nseed:x:1001:83070::/home/seed:/bin/bash\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:\nadm:x:4:syslog\nseedgrp:x:83070:\n";
    const SHADOW: &str = "root:*:19000:0:99999:7:::\nseed:!:19000:0:99999:7:::\n";
    const GSHADOW: &str = "root:*::\nsudo:*::\nadm:*::syslog\nseedgrp:!::\n";

    fn accounts(passwd: &str, group: &str, shadow: &str, gshadow: &str) -> Accounts {
        Accounts {
            passwd: Db::parse(passwd.as_bytes()),
            group: Db::parse(group.as_bytes()),
            shadow: Some(Db::parse(shadow.as_bytes())),
            gshadow: Some(Db::parse(gshadow.as_bytes())),
        }
    }

    fn text<T: super::super::Entry>(db: &Db<T>) -> String {
        String::from_utf8(db.render()).unwrap()
    }

    const ADA: UserSpec<'static> =
        UserSpec { name: "ada", uid: 177449, gid: 83070, home: "/home/ada", shell: "/bin/zsh" };

    fn bootstrap(a: &mut Accounts) -> Vec<String> {
        let mut changes = a.ensure_group("MLO-unit", 83070);
        changes.extend(a.ensure_user(&ADA));
        changes.extend(a.add_to_groups("ada", &["sudo", "adm", "nosuchgroup"]));
        changes.extend(a.lock_password("ada", 20000));
        changes
    }

    #[test]
    fn fresh_image_gets_group_user_memberships_and_a_locked_password() {
        let mut a = accounts(PASSWD, GROUP, SHADOW, GSHADOW);
        let changes = bootstrap(&mut a);
        assert_eq!(
            changes,
            [
                "renamed group seedgrp (gid 83070) to MLO-unit",
                "added user ada (uid 177449)",
                "added ada to group sudo",
                "added ada to group adm",
                "added shadow entry for ada, password locked",
            ]
        );
        assert_eq!(text(&a.group), "root:x:0:\nsudo:x:27:ada\nadm:x:4:syslog,ada\nMLO-unit:x:83070:\n");
        assert_eq!(text(a.gshadow.as_ref().unwrap()), "root:*::\nsudo:*::ada\nadm:*::syslog,ada\nMLO-unit:!::\n");
        assert!(text(&a.passwd).ends_with("ada:x:177449:83070::/home/ada:/bin/zsh\n"));
        assert!(text(a.shadow.as_ref().unwrap()).ends_with("ada:!:20000:0:99999:7:::\n"));
        assert_eq!(a.supplementary_gids("ada"), [4, 27]);
        assert_eq!(a.identity("ada"), Some(Identity { uid: 177449, gid: 83070, groups: vec![83070, 4, 27] }));
        assert_eq!(a.identity("nobody-here"), None);
    }

    #[test]
    fn malformed_lines_naming_the_user_or_group_go_because_glibc_may_read_them() {
        // glibc reads the first line as ada with uid 0 (the CR joins the
        // shell field) and the second with "/bin/sh:x" as the shell.
        let passwd = format!("{PASSWD}ada:x:0:0::/h:/bin/sh:x\n# ada:x:0:0 a comment\nada:x:0:0::/h:/bin/sh\r");
        let group = format!("{GROUP}MLO-unit:x:0:extra:field\n");
        let mut a = accounts(&passwd, &group, SHADOW, GSHADOW);
        let changes = bootstrap(&mut a);
        assert!(changes.contains(&"removed 1 malformed line(s) naming user ada".to_owned()), "{changes:?}");
        assert!(changes.contains(&"removed 1 malformed line(s) naming group MLO-unit".to_owned()), "{changes:?}");
        let passwd = text(&a.passwd);
        assert!(passwd.contains("# ada:x:0:0 a comment\n"), "comments stay: {passwd}");
        assert_eq!(passwd.lines().filter(|l| l.starts_with("ada:")).count(), 1, "{passwd}");
        assert!(!passwd.lines().any(|l| l.starts_with("ada:x:0:")), "{passwd}");
        assert!(!text(&a.group).contains(":extra:"));
    }

    #[test]
    fn second_run_changes_nothing() {
        let mut a = accounts(PASSWD, GROUP, SHADOW, GSHADOW);
        bootstrap(&mut a);
        let after_first = a.clone();
        assert_eq!(bootstrap(&mut a), Vec::<String>::new());
        assert_eq!(a, after_first);
    }

    #[test]
    fn placeholder_user_holding_the_uid_is_renamed_with_its_memberships() {
        let mut a = accounts(
            "root:x:0:0:root:/root:/bin/bash\nplaceholder:x:177449:100:P:/home/placeholder:/bin/bash\n",
            "root:x:0:\nsudo:x:27:placeholder\nusers:x:100:\nadm:x:4:\n",
            "root:*:19000:0:99999:7:::\nplaceholder:OLD:19000:0:99999:7:::\n",
            "root:*::\nsudo:*:placeholder:placeholder\nusers:!::\nadm:*::\n",
        );
        let changes = bootstrap(&mut a);
        assert_eq!(changes[..2], ["added group MLO-unit (gid 83070)", "added gshadow entry for MLO-unit"]);
        assert_eq!(changes[2], "renamed user placeholder (uid 177449) to ada");
        assert_eq!(
            changes[3],
            "user ada: primary gid 100 -> 83070, home /home/placeholder -> /home/ada, shell /bin/bash -> /bin/zsh"
        );
        assert_eq!(text(&a.passwd), "root:x:0:0:root:/root:/bin/bash\nada:x:177449:83070:P:/home/ada:/bin/zsh\n");
        assert_eq!(text(&a.group), "root:x:0:\nsudo:x:27:ada\nusers:x:100:\nadm:x:4:ada\nMLO-unit:x:83070:\n");
        assert_eq!(
            text(a.gshadow.as_ref().unwrap()),
            "root:*::\nsudo:*:ada:ada\nusers:!::\nadm:*::ada\nMLO-unit:!::\n"
        );
        assert_eq!(text(a.shadow.as_ref().unwrap()), "root:*:19000:0:99999:7:::\nada:!:19000:0:99999:7:::\n");
    }

    #[test]
    fn user_with_the_name_but_another_uid_gets_the_uid() {
        let mut a = accounts(
            "ada:x:1000:1000::/home/ada:/bin/zsh\n",
            "ada:x:1000:\nMLO-unit:x:83070:\n",
            "ada:HASH:1:0:99999:7:::\n",
            "",
        );
        let changes = a.ensure_user(&ADA);
        assert_eq!(changes, ["changed uid of user ada from 1000 to 177449", "user ada: primary gid 1000 -> 83070"]);
        assert_eq!(text(&a.passwd), "ada:x:177449:83070::/home/ada:/bin/zsh\n");
    }

    #[test]
    fn name_and_uid_held_by_different_users_the_uid_holder_wins() {
        let mut a = accounts(
            "ada:x:1000:1000::/home/ada:/bin/zsh\nph:x:177449:83070::/home/ph:/bin/zsh\n",
            "g:x:5:ada,ph\n",
            "ada:A:1:0:99999:7:::\nph:P:1:0:99999:7:::\n",
            "g:!:ada:ada,ph\n",
        );
        a.ensure_user(&ADA);
        assert_eq!(text(&a.passwd), "ada:x:177449:83070::/home/ada:/bin/zsh\n");
        assert_eq!(text(&a.group), "g:x:5:ada\n");
        assert_eq!(text(a.gshadow.as_ref().unwrap()), "g:!::ada\n");
        assert_eq!(text(a.shadow.as_ref().unwrap()), "ada:P:1:0:99999:7:::\n");
    }

    #[test]
    fn group_with_the_name_but_another_gid_gets_the_gid_and_its_users_follow() {
        let mut a = accounts("u:x:5:500::/:/bin/sh\n", "MLO-unit:x:500:u\n", "", "MLO-unit:!::u\n");
        assert_eq!(a.ensure_group("MLO-unit", 83070), ["changed gid of group MLO-unit from 500 to 83070"]);
        assert_eq!(text(&a.group), "MLO-unit:x:83070:u\n");
        assert_eq!(text(&a.passwd), "u:x:5:83070::/:/bin/sh\n");
    }

    #[test]
    fn name_and_gid_held_by_different_groups_the_gid_holder_wins() {
        let mut a = accounts("", "MLO-unit:x:500:\nph:x:83070:x\n", "", "MLO-unit:!::\nph:!::x\n");
        let changes = a.ensure_group("MLO-unit", 83070);
        assert_eq!(
            changes,
            [
                "removed group MLO-unit (gid 500): gid 83070 belongs to group ph",
                "renamed group ph (gid 83070) to MLO-unit"
            ]
        );
        assert_eq!(text(&a.group), "MLO-unit:x:83070:x\n");
        assert_eq!(text(a.gshadow.as_ref().unwrap()), "MLO-unit:!::x\n");
    }

    #[test]
    fn any_hash_is_replaced_by_the_lock_and_missing_shadow_is_reported() {
        // The old entrypoint's chpasswd (the user name as password), a
        // hash locked by `passwd -l`, an empty password, `*`.
        for old in [
            "$6$saltsalt$e/gAygZzYGPz97aJ4XssY5NXxSAiTFrhqAuTaaptvMhpGGYNPIRsiZ4.i7.PX6gQttKogBFlvogGt5by6zcsQ0",
            "!$6$x$y",
            "",
            "*",
        ] {
            let mut a = accounts("", "", &format!("ada:{old}:1:0:99999:7:::\n"), "");
            assert_eq!(a.lock_password("ada", 2), ["locked the password of ada"], "{old}");
            assert_eq!(text(a.shadow.as_ref().unwrap()), "ada:!:1:0:99999:7:::\n", "ageing kept");
            assert_eq!(a.lock_password("ada", 2), Vec::<String>::new(), "locked once");
        }
        let mut a = accounts("", "", "", "");
        a.shadow = None;
        assert_eq!(a.lock_password("ada", 2), ["no /etc/shadow: password not locked"]);
    }
}
