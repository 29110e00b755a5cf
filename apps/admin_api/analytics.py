def cost_list(request, call):
    raise NotImplementedError


usage_list = cost_report_list = usage_report_list = user_cost_report_list = user_usage_report_list = cost_list
