"""Hand-written keyword lists of Chinese addresses.

These are general words of the Chinese address language (road types, building parts,
words of direction), written for this package, and the former forms of county names
(:func:`former_forms`). They feed the tagger's features and the synthetic address
generator.
"""

from __future__ import annotations

from functools import cache

from addressing._divisions import short_forms

__all__ = ["KEYWORDS", "former_forms", "keyword_table"]

_ROAD = (
    "路 街 大道 大街 巷 弄 公路 国道 省道 县道 线 道 胡同 里 横路 支路 小路 环路 高速 大桥 桥 堤"
)
_TOWN = "镇 乡 街道 街道办事处 办事处 苏木 农场 林场"
_COMMUNITY = "村 社区 居委会 村委会 村民委员会 居民委员会 行政村 自然村 嘎查"
_DEVZONE = (
    "开发区 经济开发区 经济技术开发区 高新区 高新技术开发区 高新技术产业开发区 工业开发区 "
    "保税区 新区 产业集聚区 旅游度假区 度假区 经济区 试验区 综合保税区 出口加工区 科技城"
)
_POI = (
    "新村 大厦 广场 中心 花园 小区 公寓 家园 苑 园 城 市场 商城 大楼 医院 人民医院 中医院 中学 "
    "小学 大学 学院 学校 幼儿园 酒店 宾馆 饭店 大酒店 公司 有限公司 厂 店 超市 银行 支行 "
    "工业园 工业区 产业园 科技园 创业园 基地 国际 商务中心 写字楼 大院 山庄 庄园 别墅 府 "
    "公馆 华庭 名苑 雅苑 嘉园 佳苑 小镇 商场 购物中心 批发市场 物流园 物流中心 仓库 车站 "
    "火车站 汽车站 机场 码头 加油站 派出所 政府 人民政府 卫生院 诊所 药店 网吧 宿舍 大队 "
    "公园 体育馆 图书馆 博物馆 邮局 营业厅 专卖店 汽车城 家居 建材市场 新城 名城 华府 "
    "时代 天地 之家 馆 所 局 站 院 楼 阁 轩 居 庭 湾 港 坊 汇 谷 集团 大市场 商业街 "
    "步行街 综合楼 办公楼 宿舍楼 教学楼 实验楼 服务区 服务中心 营业部 分公司 门市部 工厂 "
    "织造厂 电器 五金 机械 科技 电子 服饰 实业 贸易 商行 经营部 分店 旗舰店 会所 俱乐部 "
    "花苑 丽苑 景苑 新苑 公寓楼 大院 家属院 家属楼 单位 部队 监狱 寺 庙 教堂 景区 车库 "
    "园区 工业园区 物流园区 商务园区 校区 生活区 街区 鞋城 服装城 珠宝城 模具城 家居城 "
    "建材城 汽配城 轻纺城 商贸城 茶城 电商园 创新园 孵化园 科创园 大楼 商务楼 商住楼 "
    "人家 雅居 世家 名邸 公社 广场店 营业部 服务站 卫生室 菜市场 农贸市场"
)
_INSTITUTION = (
    "政府 人民政府 镇政府 派出所 卫生院 中心小学 中学 初级中学 邮局 邮政所 信用社 农商银行 "
    "工业园区 工业园 工业区 汽车站 客运站 菜市场 农贸市场 敬老院 文化站 供电所 医院"
)
_SUBPOI = "东区 西区 南区 北区 一期 二期 三期 四期 东门 西门 南门 北门 大门 正门 后门 侧门"
_HOUSE = "号楼 幢 栋 座 号 楼 号院 号馆 号厂房 排 号楼 大楼"
_CELL = "单元 单 门 梯 号门 入口"
_FLOOR = "层 楼 F 楼层 层楼 夹层 地下室 负一楼 底层"
_ROOM = "室 房 号 号房 号室 号铺 铺 铺位 号商铺 商铺 档 号档 摊位 号摊位 包厢 间"
_ROADNO = "号 弄 号院 组 队 号楼"
_PERSON = (
    "公司 有限公司 有限责任公司 股份有限公司 集团 办公室 财务部 人事部 行政部 前台 收发室 "
    "传达室 门卫 门卫室 保安室 丰巢 快递柜 工作室 事务所 车间 仓库 科 部 处 研究所 研究院 "
    "实验室 销售部 业务部 总部 分部 快递点 驿站 菜鸟驿站 代收点"
)
_ASSIST = (
    "旁 旁边 对面 隔壁 附近 门口 内 里面 后面 前面 楼下 斜对面 东侧 西侧 南侧 北侧 东边 西边 "
    "南边 北边 口 交叉口 交汇处 交口 东南角 西南角 东北角 西北角 路口 往里 往东 往西 往南 往北 向东 向西 向南 向北 边上 楼上 处 "
    "正对面 对过 西面 东面 南面 北面 里 往前 后 前 上面 下面 右边 左边 右侧 左侧 转角 拐角"
)
_REDUNDANT = (
    "的 和 与 电联 请电联 到了打电话 打电话 送货前电联 电话联系 委托件 急件 放门卫 放快递柜 周末不送 "
    "工作日送 送货上门 谢谢 null 先电联 联系电话 收件 代收 转交 请送到 送到 收件人 下午派送 上午派送 "
    "节假日正常派送 节假日不送 晚上送 转寄 放门口 放前台"
)
_INDUSTRY = (
    "科技 实业 服饰 纺织 电子 机械 贸易 化工 电器 五金 建设 物流 印染 塑料 制衣 包装 汽配 "
    "家具 材料 工艺品 进出口 针织 鞋业 食品 医疗器械 信息技术 网络 文化传媒 装饰 建材 "
    "模具 轴承 阀门 水暖 照明 灯饰 玩具 箱包 皮革 眼镜 工贸 商贸 投资 置业 房地产 光电"
)
_COMPANY = "公司 有限公司 股份有限公司 有限责任公司 分公司 集团 集团有限公司 厂 工厂 商行 经营部"
_COUNTRY = "中国 中华人民共和国"
_DIRECTION = "东 西 南 北 中 东南 东北 西南 西北"

KEYWORDS: dict[str, tuple[str, ...]] = {
    name: tuple(dict.fromkeys(words.split()))
    for name, words in {
        "road": _ROAD,
        "town": _TOWN,
        "community": _COMMUNITY,
        "devzone": _DEVZONE,
        "poi": _POI,
        "institution": _INSTITUTION,
        "subpoi": _SUBPOI,
        "house": _HOUSE,
        "cell": _CELL,
        "floor": _FLOOR,
        "room": _ROOM,
        "roadno": _ROADNO,
        "person": _PERSON,
        "assist": _ASSIST,
        "redundant": _REDUNDANT,
        "country": _COUNTRY,
        "industry": _INDUSTRY,
        "company": _COMPANY,
        "direction": _DIRECTION,
    }.items()
}
"""Keyword families, each a tuple of words."""


@cache
def keyword_table() -> dict[str, tuple[str, ...]]:
    """Return a map from each keyword to the families it belongs to."""
    table: dict[str, list[str]] = {}
    for family, words in KEYWORDS.items():
        for w in words:
            table.setdefault(w, []).append(family)
    return {w: tuple(f) for w, f in table.items()}


def former_forms(name: str) -> list[str]:
    """Return the other county-level names a county may still be written with.

    Counties become districts or cities and autonomous counties are written short:
    people keep writing ``洞头县`` for ``洞头区`` or ``石柱县`` for
    ``石柱土家族自治县``.

    Examples
    --------
    >>> former_forms("洞头区")
    ['洞头县', '洞头市']
    """
    out: list[str] = []
    for short in short_forms(name, "district"):
        out += [short + suffix for suffix in ("县", "区", "市") if short + suffix != name]
    return out
