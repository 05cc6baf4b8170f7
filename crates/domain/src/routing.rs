//! Which department is responsible for a report: the most specific route wins.

/// One routing rule of a jurisdiction: (category, dedup group or any) × (service area or whole
/// city) → department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub category_id: Option<i64>,
    pub dedup_group: Option<String>,
    pub service_area_id: Option<i64>,
    pub department_id: i64,
}

/// What is being routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingQuestion<'a> {
    pub category_id: i64,
    pub dedup_group: &'a str,
    pub service_area_id: Option<i64>,
}

impl RouteRule {
    /// How specific a matching rule is, or `None` when it does not apply. A service area beats
    /// the whole city; then a category beats its dedup group beats any category.
    fn specificity(&self, question: RoutingQuestion<'_>) -> Option<(u8, u8)> {
        let area = match self.service_area_id {
            None => 0,
            Some(area) if Some(area) == question.service_area_id => 1,
            Some(_) => return None,
        };
        let category = match (self.category_id, self.dedup_group.as_deref()) {
            (Some(id), _) if id == question.category_id => 2,
            (None, Some(group)) if group == question.dedup_group => 1,
            (None, None) => 0,
            _ => return None,
        };
        Some((area, category))
    }
}

/// The department of the most specific matching rule, else `default_department`.
/// Among equally specific rules the first one listed wins, so callers list rules by id.
pub fn choose_department(
    rules: &[RouteRule],
    question: RoutingQuestion<'_>,
    default_department: Option<i64>,
) -> Option<i64> {
    let mut best: Option<((u8, u8), i64)> = None;
    for rule in rules {
        if let Some(rank) = rule.specificity(question)
            && best.is_none_or(|(best_rank, _)| rank > best_rank)
        {
            best = Some((rank, rule.department_id));
        }
    }
    best.map(|(_, department)| department)
        .or(default_department)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(category: Option<i64>, group: Option<&str>, area: Option<i64>, dept: i64) -> RouteRule {
        RouteRule {
            category_id: category,
            dedup_group: group.map(str::to_owned),
            service_area_id: area,
            department_id: dept,
        }
    }

    const POTHOLE_IN_DORCHESTER: RoutingQuestion<'static> = RoutingQuestion {
        category_id: 7,
        dedup_group: "road_surface",
        service_area_id: Some(3),
    };

    #[test]
    fn the_default_catches_what_no_rule_matches() {
        let rules = [rule(Some(8), None, None, 100)];
        assert_eq!(
            choose_department(&rules, POTHOLE_IN_DORCHESTER, Some(1)),
            Some(1)
        );
        assert_eq!(choose_department(&[], POTHOLE_IN_DORCHESTER, None), None);
    }

    #[test]
    fn an_area_rule_beats_a_city_wide_category_rule() {
        let rules = [
            rule(Some(7), None, None, 100),
            rule(None, None, Some(3), 200),
        ];
        assert_eq!(
            choose_department(&rules, POTHOLE_IN_DORCHESTER, Some(1)),
            Some(200)
        );
    }

    #[test]
    fn category_beats_group_beats_any() {
        let rules = [
            rule(None, None, None, 100),
            rule(None, Some("road_surface"), None, 200),
            rule(Some(7), None, None, 300),
        ];
        assert_eq!(
            choose_department(&rules, POTHOLE_IN_DORCHESTER, None),
            Some(300)
        );
        assert_eq!(
            choose_department(&rules[..2], POTHOLE_IN_DORCHESTER, None),
            Some(200)
        );
        assert_eq!(
            choose_department(&rules[..1], POTHOLE_IN_DORCHESTER, None),
            Some(100)
        );
    }

    #[test]
    fn rules_of_other_areas_and_categories_do_not_apply() {
        let rules = [
            rule(Some(7), None, Some(4), 100),
            rule(Some(9), None, Some(3), 200),
        ];
        assert_eq!(
            choose_department(&rules, POTHOLE_IN_DORCHESTER, Some(1)),
            Some(1)
        );
        let outside_areas = RoutingQuestion {
            service_area_id: None,
            ..POTHOLE_IN_DORCHESTER
        };
        assert_eq!(choose_department(&rules, outside_areas, Some(1)), Some(1));
    }

    #[test]
    fn the_first_of_equally_specific_rules_wins() {
        let rules = [
            rule(Some(7), None, None, 100),
            rule(Some(7), None, None, 200),
        ];
        assert_eq!(
            choose_department(&rules, POTHOLE_IN_DORCHESTER, None),
            Some(100)
        );
    }
}
