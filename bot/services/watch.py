"""The mass-viewing alarm: one member opening many client cards (or exporting) in a short time
is the classic sign of someone copying the base before leaving.

Counted from the audit log (indexed by actor_id, created_at) in the same unit of work as the view
that is being recorded, so the view itself counts.

Once per episode: an alert is itself an audit row ("mass_view", the member as actor), and views
already reported by it do not count again. The next alert needs more than N fresh distinct cards
opened after the previous alert, within the window: a burst raises one alert, not one per card.
"""

from __future__ import annotations

from datetime import timedelta

from bot.services.alerts import alert_owners
from bot.services.context import Actor, ServiceContext
from storage.enums import Role

MASS_VIEW = "mass_view"


async def note_viewing(ctx: ServiceContext, actor: Actor) -> bool:
    """Call after writing a card_view or export audit row; True when the owners were alerted."""
    if actor.member.role == Role.OWNER:
        return False
    uow, limits, now = ctx.uow, ctx.limits, ctx.now()
    window = timedelta(minutes=limits.mass_view_minutes)
    # Views up to the last alert were reported by it; only what came after is new.
    cards, exports = await uow.audit.viewing_since(actor.member.id, now - window, MASS_VIEW)
    if cards + exports <= limits.mass_view_cards:
        return False
    details = {"cards": cards, "exports": exports, "minutes": limits.mass_view_minutes}
    await uow.audit.add(
        team_id=actor.team.id,
        actor_id=actor.member.id,
        action=MASS_VIEW,
        now=now,
        details=details,
    )
    await alert_owners(
        uow,
        team_id=actor.team.id,
        step=MASS_VIEW,
        params={"member": actor.member.full_name, **details},
        dedup_key=f"{actor.member.id}:{int(now.timestamp())}",
        now=now,
        except_member=actor.member.id,
    )
    return True
