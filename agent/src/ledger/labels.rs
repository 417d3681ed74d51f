//! The ledger's words for the contract's codes, in Chinese (the paper an inspector reads)
//! with the code beside it, so that nothing is lost in translation.

use crate::alert::AlertType;

/// `(Chinese, English)` for an alert type; the code itself for a type this agent does not
/// know (a newer agent's journal).
pub fn alert_label(ty: &str) -> (String, String) {
    match AlertType::ALL.iter().find(|t| t.as_str() == ty) {
        Some(t) => (t.label_zh().to_string(), t.label_en().to_string()),
        None => (ty.to_string(), ty.to_string()),
    }
}

/// `因病 (sick)`: the Chinese word for `code` of `kind`, with the code; the code alone when
/// there is no word for it.
pub fn code_label(kind: &str, code: &str) -> String {
    let zh = match (kind, code) {
        ("result", "pass") => "正常",
        ("result", "refer") => "需复查",
        ("reason", "sick") => "因病",
        ("reason", "personal") => "事假",
        ("reason", "other") => "其他",
        ("presence", "on_duty") => "在岗",
        ("presence", "break") => "休息",
        ("presence", "other_work") => "其他工作",
        ("action", "handled_on_site") => "现场处理",
        ("action", "parent_notified") => "已通知家长",
        ("action", "escalated") => "已上报",
        ("action", "false_alarm") => "误报",
        ("action", "other") => "其他",
        ("severity", "critical") => "紧急",
        ("severity", "warning") => "警告",
        ("role", "caregiver") => "保育员",
        ("role", "teacher") => "教师",
        ("role", "health") => "保健人员",
        ("role", "security") => "安保",
        ("role", "cook") => "炊事员",
        ("role", "admin") => "管理人员",
        ("certificate", "health") => "健康合格证",
        ("certificate", "caregiver") => "保育员证",
        ("certificate", "infant_care") => "育婴员证",
        ("certificate", "teacher") => "教师资格证",
        ("certificate", "nurse") => "护士执业证书",
        ("certificate", "doctor") => "医师执业证书",
        ("certificate", "first_aid") => "急救员证",
        _ => return code.to_string(),
    };
    format!("{zh} ({code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_code_reads_in_chinese_with_the_code_and_an_unknown_one_as_itself() {
        assert_eq!(code_label("reason", "sick"), "因病 (sick)");
        assert_eq!(code_label("reason", "holiday"), "holiday");
        assert_eq!(alert_label("ratio_breach").0, "师幼比不足");
        assert_eq!(alert_label("from_the_future").1, "from_the_future");
    }
}
