//! The ledger as tables of text, in sections: what both the CSV and the HTML print, so that
//! the two never say different things.

use super::{alert_label, code_label, Ledger, Person, Stay};

/// A heading in both languages.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    pub zh: &'static str,
    pub en: &'static str,
}

const fn w(zh: &'static str, en: &'static str) -> Words {
    Words { zh, en }
}

#[derive(Debug, Clone)]
pub struct Table {
    /// A stable id (the HTML's anchor, the CSV's section).
    pub id: &'static str,
    pub title: Words,
    pub columns: Vec<Words>,
    pub rows: Vec<Vec<String>>,
    /// Said in place of rows when there are none.
    pub empty: Words,
}

/// One printed section (a new page on paper).
#[derive(Debug, Clone)]
pub struct Section {
    pub title: Words,
    pub tables: Vec<Table>,
}

pub const TITLE: Words = w("托育机构每日台账", "Daily ledger");

/// The sections of `l`, in order.
pub fn sections(l: &Ledger) -> Vec<Section> {
    vec![
        Section {
            title: w("幼儿", "Children"),
            tables: vec![arrivals(l), health_checks(l), absences(l)],
        },
        Section {
            title: w("教职工", "Staff"),
            tables: vec![staff(l)],
        },
        Section {
            title: w("午睡", "Naps"),
            tables: vec![naps(l), sleep_checks(l)],
        },
        Section {
            title: w("警报与处置", "Alerts and dispositions"),
            tables: vec![alerts(l)],
        },
    ]
}

fn opt_time(l: &Ledger, t: &Option<chrono::DateTime<chrono::FixedOffset>>) -> String {
    t.as_ref().map(|t| l.time(t)).unwrap_or_default()
}

fn who(p: &Option<Person>) -> String {
    p.as_ref().map(Person::label).unwrap_or_default()
}

fn arrivals(l: &Ledger) -> Table {
    let mut rows = Vec::new();
    for c in &l.children {
        let status = |stays: &[Stay]| -> String {
            if !stays.is_empty() {
                "出勤 (present)".into()
            } else if let Some(r) = &c.absence {
                format!("缺勤 (absent): {}", code_label("reason", r))
            } else {
                "未到园 (not in, no absence reported)".into()
            }
        };
        if c.stays.is_empty() {
            rows.push(vec![
                c.child.label(),
                c.child.id.clone(),
                l.room(&c.room).to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                status(&c.stays),
            ]);
        }
        for s in &c.stays {
            let guardian = match (s.left, s.authorized) {
                (Some(_), Some(true)) => "是 (yes)".to_string(),
                (Some(_), Some(false)) if s.collected_by.is_none() => {
                    "未登记接送人 (no one recorded)".to_string()
                }
                (Some(_), Some(false)) => "否：非监护人 (NOT a guardian)".to_string(),
                _ => String::new(),
            };
            rows.push(vec![
                c.child.label(),
                c.child.id.clone(),
                l.room(&s.room).to_string(),
                opt_time(l, &s.arrived),
                s.left
                    .map_or_else(|| "未离园 (still in)".to_string(), |t| l.time(&t)),
                who(&s.collected_by),
                guardian,
                status(&c.stays),
            ]);
        }
    }
    Table {
        id: "arrivals",
        title: w("幼儿出入园及接送", "Arrivals, departures and pick-ups"),
        columns: vec![
            w("幼儿", "Child"),
            w("编号", "Id"),
            w("班级", "Room"),
            w("入园", "Arrived"),
            w("离园", "Left"),
            w("接送人", "Collected by"),
            w("是否监护人", "Guardian"),
            w("出勤", "Attendance"),
        ],
        rows,
        empty: w("花名册无幼儿", "No children on the roster"),
    }
}

fn health_checks(l: &Ledger) -> Table {
    Table {
        id: "health-checks",
        title: w("晨午检", "Health checks"),
        columns: vec![
            w("时间", "Time"),
            w("幼儿", "Child"),
            w("编号", "Id"),
            w("体温 °C", "Temperature °C"),
            w("结果", "Result"),
            w("检查人", "Checked by"),
        ],
        rows: l
            .health_checks
            .iter()
            .map(|h| {
                vec![
                    l.time(&h.at),
                    h.child.label(),
                    h.child.id.clone(),
                    h.celsius.map(|c| format!("{c:.1}")).unwrap_or_default(),
                    code_label("result", &h.result),
                    who(&h.by),
                ]
            })
            .collect(),
        empty: w("当日无晨午检记录", "No health checks recorded"),
    }
}

fn absences(l: &Ledger) -> Table {
    Table {
        id: "absences",
        title: w("缺勤登记", "Absences"),
        columns: vec![
            w("幼儿", "Child"),
            w("编号", "Id"),
            w("原因", "Reason"),
            w("登记时间", "Reported"),
        ],
        rows: l
            .absences
            .iter()
            .map(|a| {
                vec![
                    a.child.label(),
                    a.child.id.clone(),
                    code_label("reason", &a.reason),
                    l.time(&a.reported_at),
                ]
            })
            .collect(),
        empty: w("当日无缺勤登记", "No absences reported"),
    }
}

fn staff(l: &Ledger) -> Table {
    let mut rows = Vec::new();
    for s in &l.staff {
        let presence = s
            .presence
            .iter()
            .map(|(t, state)| format!("{} {}", l.time(t), code_label("presence", state)))
            .collect::<Vec<_>>()
            .join("; ");
        let certificates = match &s.certificates {
            None => "本版本未读取证书 (certificates not read by this version)".to_string(),
            Some(c) if c.is_empty() => "无 (none on the roster)".to_string(),
            Some(c) => c
                .iter()
                .map(|c| {
                    let state = if l.valid(c) {
                        "有效 valid"
                    } else {
                        "已过期 EXPIRED"
                    };
                    format!(
                        "{} 至 {} ({state})",
                        code_label("certificate", &c.kind),
                        c.expires
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        let stays: Vec<Option<&Stay>> = if s.stays.is_empty() {
            vec![None]
        } else {
            s.stays.iter().map(Some).collect()
        };
        for (i, stay) in stays.into_iter().enumerate() {
            rows.push(vec![
                s.staff.label(),
                s.staff.id.clone(),
                if s.role.is_empty() {
                    String::new()
                } else {
                    code_label("role", &s.role)
                },
                l.room(stay.map_or(s.room.as_str(), |st| st.room.as_str()))
                    .to_string(),
                stay.map(|st| opt_time(l, &st.arrived)).unwrap_or_default(),
                stay.map(|st| {
                    st.left
                        .map_or_else(|| "未离岗 (still in)".to_string(), |t| l.time(&t))
                })
                .unwrap_or_default(),
                if i == 0 {
                    presence.clone()
                } else {
                    String::new()
                },
                if i == 0 {
                    certificates.clone()
                } else {
                    String::new()
                },
            ]);
        }
    }
    Table {
        id: "staff",
        title: w("教职工在岗及持证", "Staff on duty and their certificates"),
        columns: vec![
            w("姓名", "Name"),
            w("编号", "Id"),
            w("岗位", "Role"),
            w("班级", "Room"),
            w("到岗", "In"),
            w("离岗", "Out"),
            w("在岗状态变更", "Presence changes"),
            w("证书", "Certificates"),
        ],
        rows,
        empty: w("当日无教职工到岗记录", "No staff checked in"),
    }
}

fn naps(l: &Ledger) -> Table {
    Table {
        id: "naps",
        title: w("午睡时段", "Naps"),
        columns: vec![w("班级", "Room"), w("开始", "Start"), w("结束", "End")],
        rows: l
            .naps
            .iter()
            .map(|n| {
                vec![
                    l.room(&n.room).to_string(),
                    opt_time(l, &n.start),
                    n.end
                        .map_or_else(|| "未结束 (not ended)".to_string(), |t| l.time(&t)),
                ]
            })
            .collect(),
        empty: w("当日无午睡记录", "No naps recorded"),
    }
}

fn sleep_checks(l: &Ledger) -> Table {
    Table {
        id: "sleep-checks",
        title: w("午睡巡查", "Sleep checks"),
        columns: vec![
            w("时间", "Time"),
            w("班级", "Room"),
            w("巡查人", "Checked by"),
        ],
        rows: l
            .sleep_checks
            .iter()
            .map(|s| vec![l.time(&s.at), l.room(&s.room).to_string(), s.by.label()])
            .collect(),
        empty: w("当日无午睡巡查记录", "No sleep checks recorded"),
    }
}

fn alerts(l: &Ledger) -> Table {
    Table {
        id: "alerts",
        title: w(
            "警报、确认与处置",
            "Alerts, acknowledgements and dispositions",
        ),
        columns: vec![
            w("发生", "Raised"),
            w("警报", "Alert"),
            w("级别", "Severity"),
            w("对象", "Subject"),
            w("详情", "Details"),
            w("确认", "Acknowledged"),
            w("处置", "Disposition"),
            w("处置说明", "Note"),
            w("解除", "Resolved"),
        ],
        rows: l
            .alerts
            .iter()
            .map(|a| {
                let (zh, en) = alert_label(&a.alert_type);
                vec![
                    a.raised
                        .map_or_else(|| "（当日之前 earlier）".to_string(), |t| l.time(&t)),
                    format!("{zh} ({en})"),
                    code_label("severity", &a.severity),
                    match &a.subject_name {
                        Some(n) => format!("{n} ({})", a.subject),
                        None => a.subject.clone(),
                    },
                    a.details.clone(),
                    a.acknowledged
                        .iter()
                        .map(|(t, p)| format!("{} {}", l.time(t), p.label()))
                        .collect::<Vec<_>>()
                        .join("; "),
                    a.dispositions
                        .iter()
                        .map(|d| {
                            format!(
                                "{} {} {}",
                                l.time(&d.at),
                                d.by.label(),
                                code_label("action", &d.action)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    a.dispositions
                        .iter()
                        .filter_map(|d| d.note.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                    a.resolved.map(|t| l.time(&t)).unwrap_or_default(),
                ]
            })
            .collect(),
        empty: w("当日无警报", "No alerts"),
    }
}
